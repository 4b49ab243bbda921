import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDatabase } from '../../src/db/database';
import { freePort } from '../../src/db/free-port';

/**
 * A PostgreSQL of the test's own, in a child process, so the test can stop it (gracefully or with
 * kill -9) and start it again on the same port and data. Never the machine's shared server.
 */
export class OwnPostgres {
  private child: ChildProcess | null = null;

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  /** URL of the `calltrail` database, created on first start. */
  get url(): string {
    return `postgres://postgres:calltrail@127.0.0.1:${this.port}/calltrail`;
  }

  static async start(): Promise<OwnPostgres> {
    const dir = await mkdtemp(join(tmpdir(), 'calltrail-pg-'));
    await chmod(dir, 0o755); // the server runs as the postgres user when we are root
    const pg = new OwnPostgres(dir, await freePort());
    await pg.restart();
    await ensureDatabase(`postgres://postgres:calltrail@127.0.0.1:${pg.port}/postgres`, 'calltrail');
    return pg;
  }

  async restart(): Promise<void> {
    const child = spawn(process.execPath, [join(__dirname, 'embedded-pg-server.mjs'), this.dir, String(this.port)], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((ok, fail) => {
      child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && ok());
      child.on('exit', (code) => fail(new Error(`embedded PostgreSQL exited with ${code}`)));
    });
    this.child = child;
  }

  /** A clean shutdown (SIGTERM to the wrapper, which stops the server). */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((ok) => {
      child.once('exit', () => ok());
      child.kill('SIGTERM');
    });
  }

  /** kill -9 of the postmaster (its children exit with it), then of the wrapper. */
  async crash(): Promise<void> {
    const pid = Number(readFileSync(join(this.dir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 100; i++) {
      try {
        process.kill(pid, 0);
        await new Promise((r) => setTimeout(r, 50));
      } catch {
        break;
      }
    }
    this.child?.kill('SIGKILL');
    this.child = null;
  }

  async remove(): Promise<void> {
    await this.stop().catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true });
  }
}
