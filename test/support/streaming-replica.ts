import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync } from 'node:fs';
import { appendFile, chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { lookupUser } from '../../src/db/embedded-access';
import { freePort } from '../../src/db/free-port';

/** The programs a streaming pair needs. */
const PROGRAMS = ['initdb', 'postgres', 'pg_basebackup'] as const;

/**
 * The folder of this machine's PostgreSQL programs: `PG_BIN` when set, else the newest
 * `/usr/lib/postgresql/<version>/bin` that has initdb, postgres and pg_basebackup; or why there is none.
 */
export function findPgBin(): { dir: string } | { missing: string } {
  const has = (dir: string) => PROGRAMS.filter((p) => !isExecutable(join(dir, p)));
  if (process.env.PG_BIN) {
    const lacking = has(process.env.PG_BIN);
    return lacking.length === 0 ? { dir: process.env.PG_BIN } : { missing: `PG_BIN=${process.env.PG_BIN} has no ${lacking.join(', ')}` };
  }
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) if (has(join(root, v, 'bin')).length === 0) return { dir: join(root, v, 'bin') };
  return { missing: versions.length === 0 ? `no ${root}/<version>/bin and no PG_BIN` : `no ${PROGRAMS.join(', ')} together in ${versions.map((v) => `${root}/${v}/bin`).join(', ')}` };
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Who the servers run as: ourselves, or (PostgreSQL refuses root) the `postgres` system user. */
function runAs(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  const user = lookupUser('postgres');
  if (user.uid === null) throw new Error('streaming replica: running as root, expected a "postgres" system user to run PostgreSQL as, got none');
  return { uid: user.uid, gid: user.gids[0] };
}

/** Runs a program to its end (bounded by `timeoutMs`); rejects with its output when it fails. */
function run(bin: string, args: string[], user: { uid: number; gid: number } | null, cwd: string, timeoutMs = 60000): Promise<void> {
  return new Promise((ok, fail) => {
    const child = spawn(bin, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], ...(user ?? {}), env: { ...process.env, LC_ALL: 'C' } });
    let output = '';
    child.stdout!.on('data', (c: Buffer) => (output += c));
    child.stderr!.on('data', (c: Buffer) => (output += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', fail);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) ok();
      else fail(new Error(`${bin} ${args.join(' ')}: exited with ${code ?? signal}:\n${output}`));
    });
  });
}

/** Runs `sql` on a fresh connection to `url` and returns its rows. */
export async function sqlAt<T = Record<string, unknown>>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

/** Polls `check` every 100 ms until it is true; throws `what` after `timeoutMs`. Errors of `check` count as false. */
export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 20000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`expected ${what} within ${timeoutMs} ms${last ? `, last error: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** One postgres server process of the pair. */
class Server {
  private child: ChildProcess | null = null;
  private log = '';

  constructor(
    private readonly bin: string,
    readonly dir: string,
    readonly port: number,
    private readonly user: { uid: number; gid: number } | null,
    private readonly settings: readonly string[],
  ) {}

  url(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  /** Starts the server and waits (at most 30 s) until it takes connections. */
  async start(): Promise<void> {
    const args = ['-D', this.dir, '-p', String(this.port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'shared_buffers=16MB', '-c', 'max_connections=60', ...this.settings.flatMap((s) => ['-c', s])];
    const child = spawn(join(this.bin, 'postgres'), args, { cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'], ...(this.user ?? {}), env: { ...process.env, LC_ALL: 'C' } });
    this.log = '';
    const keep = (c: Buffer) => (this.log = (this.log + c.toString()).slice(-4000));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    this.child = child;
    await waitUntil(`the server on port ${this.port} to take connections`, async () => {
      if (child.exitCode !== null) throw new Error(`postgres exited with ${child.exitCode}:\n${this.log}`);
      await sqlAt(this.url(), 'SELECT 1');
      return true;
    }, 30000);
  }

  /** Fast shutdown (SIGINT), then SIGKILL if it has not exited within 15 s. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((ok) => {
      const kill = setTimeout(() => child.kill('SIGKILL'), 15000);
      child.once('exit', () => {
        clearTimeout(kill);
        ok();
      });
      child.kill('SIGINT');
    });
  }
}

/**
 * A PostgreSQL primary and a streaming replica of it, of the test's own (never the machine's shared
 * server): `initdb` with `wal_level=replica` and a replication line in pg_hba (trust on 127.0.0.1),
 * `pg_basebackup -R` into a second folder, both on free ports. As root both run as the `postgres`
 * system user, as the embedded PostgreSQL does (src/db/embedded.ts).
 */
export class StreamingPair {
  private constructor(
    private readonly base: string,
    readonly primary: Server,
    readonly standby: Server,
  ) {}

  /** Makes and starts both, with a `calltrail` database on the primary; the standby streams before this returns. */
  static async start(bin: string): Promise<StreamingPair> {
    const user = runAs();
    const base = await mkdtemp(join(tmpdir(), 'calltrail-replica-'));
    try {
      await chmod(base, 0o755);
      if (user) await chown(base, user.uid, user.gid);
      const primaryDir = join(base, 'primary');
      const standbyDir = join(base, 'standby');
      await run(join(bin, 'initdb'), ['-D', primaryDir, '-U', 'postgres', '--auth=trust', '--no-locale', '--encoding=UTF8', '--no-sync'], user, base);
      await appendFile(join(primaryDir, 'pg_hba.conf'), '\nhost replication postgres 127.0.0.1/32 trust\n');
      const primary = new Server(bin, primaryDir, await freePort(), user, ['wal_level=replica', 'max_wal_senders=4', 'fsync=off']);
      const pair = new StreamingPair(base, primary, new Server(bin, standbyDir, await freePort(), user, ['hot_standby=on', 'fsync=off']));
      try {
        await primary.start();
        await sqlAt(primary.url(), 'CREATE DATABASE calltrail');
        await run(join(bin, 'pg_basebackup'), ['-h', '127.0.0.1', '-p', String(primary.port), '-U', 'postgres', '-D', standbyDir, '-R', '-X', 'stream', '--checkpoint=fast', '--no-sync'], user, base);
        await pair.standby.start();
        await pair.waitStreaming();
        return pair;
      } catch (err) {
        await pair.stop();
        throw err;
      }
    } catch (err) {
      await rm(base, { recursive: true, force: true });
      throw err;
    }
  }

  /** Waits until the standby is in recovery and its WAL receiver streams from the primary. */
  async waitStreaming(timeoutMs = 20000): Promise<void> {
    await waitUntil('the standby to be in recovery and streaming', async () => {
      const [r] = await sqlAt<{ recovery: boolean; status: string | null }>(this.standby.url(), `SELECT pg_is_in_recovery() AS recovery, (SELECT status FROM pg_stat_wal_receiver) AS status`);
      return r.recovery && r.status === 'streaming';
    }, timeoutMs);
  }

  /** Waits until the standby has replayed everything the primary has written so far. */
  async waitReplayed(timeoutMs = 20000): Promise<void> {
    const [{ lsn }] = await sqlAt<{ lsn: string }>(this.primary.url(), 'SELECT pg_current_wal_lsn()::text AS lsn');
    await waitUntil(`the standby to replay up to ${lsn}`, async () => {
      const [r] = await sqlAt<{ done: boolean }>(this.standby.url(), 'SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS done', [lsn]);
      return r.done;
    }, timeoutMs);
  }

  /** Pauses WAL replay on the standby and waits until it has paused (it keeps receiving WAL). */
  async pauseReplay(): Promise<void> {
    await sqlAt(this.standby.url(), 'SELECT pg_wal_replay_pause()');
    await waitUntil('replay to pause', async () => (await sqlAt<{ s: string }>(this.standby.url(), 'SELECT pg_get_wal_replay_pause_state() AS s'))[0].s === 'paused', 10000);
  }

  async resumeReplay(): Promise<void> {
    await sqlAt(this.standby.url(), 'SELECT pg_wal_replay_resume()');
  }

  /** Stops both servers (each bounded) and removes their folders. */
  async stop(): Promise<void> {
    await Promise.all([this.standby.stop(), this.primary.stop()]);
    await rm(this.base, { recursive: true, force: true });
  }
}
