import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/db/free-port';
import { lockDirectory } from '../../src/spool/dir-lock';
import { openTestDatabase, type TestDatabase } from '../support/database';

let db: TestDatabase;
let spoolDir: string;
beforeAll(async () => {
  db = await openTestDatabase();
  spoolDir = await mkdtemp(join(tmpdir(), 'calltrail-start-up-'));
});
afterAll(async () => {
  await db.drop();
  await rm(spoolDir, { recursive: true, force: true });
});

/** Runs calltrail's entry point until it exits; its exit code and output. */
async function runToExit(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, '../../src/main.ts')], {
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(await freePort()), NODE_ENV: 'test', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = { stdout: '', stderr: '' };
  child.stdout.on('data', (d) => (output.stdout += d));
  child.stderr.on('data', (d) => (output.stderr += d));
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  return { code, ...output };
}

describe('a start-up that fails', () => {
  it('exits 1 with one JSON line on stderr (level fatal, the stack as a field) when another process holds its SPOOL_DIR', async () => {
    const held = await lockDirectory(spoolDir);
    try {
      const run = await runToExit({ DATABASE_URL: db.url, SPOOL_DIR: spoolDir });
      expect(run.code).toBe(1);
      const lines = run.stderr.split('\n').filter((l) => l.trim() !== '');
      expect(lines).toHaveLength(1);
      const line = JSON.parse(lines[0]) as { level: number; msg: string; err: { message: string; stack: string } };
      expect(line).toMatchObject({ level: 60, msg: 'start-up failed' });
      expect(line.err.message).toContain('give each replica its own SPOOL_DIR');
      expect(line.err.stack).toMatch(/\n\s+at /);
    } finally {
      await held.release();
    }
  }, 30000);
});
