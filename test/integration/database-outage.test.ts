import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDataSource, ensureDatabase, runMigrations, type Database } from '../../src/db/database';
import { freePort } from '../../src/db/free-port';
import { startTestApp, type TestApp } from '../support/app';
import { makeCallback, postCallback } from '../support/callbacks';

/** A PostgreSQL of this test's own, in a child process, so the test can stop and restart it. */
async function startServer(dir: string, port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join(__dirname, '../support/embedded-pg-server.mjs'), dir, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((ok, fail) => {
    child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && ok());
    child.on('exit', (code) => fail(new Error(`embedded PostgreSQL exited with ${code}`)));
  });
  return child;
}
const stopServer = (child: ChildProcess) =>
  new Promise<void>((ok) => {
    child.once('exit', () => ok());
    child.kill('SIGTERM');
  });

let dir: string;
let port: number;
let server: ChildProcess;
let db: Database;
let t: TestApp; // SPOOL=off: today's 503s
let spooling: TestApp; // the default: the outage spool

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'calltrail-outage-'));
  await chmod(dir, 0o755);
  port = await freePort();
  server = await startServer(dir, port);
  const admin = `postgres://postgres:calltrail@127.0.0.1:${port}/postgres`;
  await ensureDatabase(admin, 'calltrail');
  const url = admin.replace(/postgres$/, 'calltrail');
  const dataSource = createDataSource(url, { size: 4, statementTimeoutMs: 15000, name: 'calltrail-test' });
  await dataSource.initialize();
  await runMigrations(dataSource, url);
  db = { dataSource, ingestDataSource: dataSource, readDataSource: dataSource, replica: null, url, embedded: null, isReady: () => dataSource.query('SELECT 1').then(() => true, () => false), close: async () => dataSource.destroy() };
  t = await startTestApp({ INGEST_TIMEOUT_MS: '1000', SPOOL: 'off' }, db as never);
  spooling = await startTestApp({ INGEST_TIMEOUT_MS: '1000' }, db as never);
}, 60000);
afterAll(async () => {
  await t?.stop();
  await spooling?.stop();
  await db?.close().catch(() => undefined);
  if (server && server.exitCode === null) await stopServer(server);
  await rm(dir, { recursive: true, force: true });
});

interface Sent {
  readonly callId: string;
  readonly status: number;
  readonly ms: number;
  readonly retryAfter: string | null;
}

/** Posts distinct callbacks from 4 senders while PostgreSQL is stopped for 1.5 s and started again. */
async function sendThroughOutage(app: TestApp, prefix: string) {
  const sent: Sent[] = [];
  let n = 0;
  let running = true;
  const sender = async () => {
    while (running) {
      const callId = `${prefix}-${n++}`;
      const started = Date.now();
      const res = await postCallback(app.baseUrl, makeCallback({ CallId: callId }));
      sent.push({ callId, status: res.status, ms: Date.now() - started, retryAfter: res.headers.get('retry-after') });
    }
  };
  const senders = Promise.all([sender(), sender(), sender(), sender()]);
  await new Promise((r) => setTimeout(r, 400));
  await stopServer(server);
  const stoppedAt = sent.length;
  await new Promise((r) => setTimeout(r, 1500));
  // A refused callback (no UserId) that cannot be kept in quarantine while the database is away.
  const refusal = await postCallback(app.baseUrl, { ...makeCallback({ CallId: `${prefix}-refused` }), UserId: undefined });
  server = await startServer(dir, port);
  await new Promise((r) => setTimeout(r, 1500));
  running = false;
  await senders;
  return { sent, stoppedAt, refusal, byStatus: (s: number) => sent.filter((x) => x.status === s) };
}

const storedCounts = async (prefix: string): Promise<Map<string, number>> => {
  const rows: { call_id: string; n: number }[] = await db.dataSource.query(
    `SELECT call_id, count(*)::int AS n FROM call_events WHERE call_id LIKE $1 GROUP BY call_id`,
    [`${prefix}-%`],
  );
  return new Map(rows.map((r) => [r.call_id, r.n]));
};

describe('when PostgreSQL is unavailable', () => {
  it('with SPOOL=off answers 503 with Retry-After, never a false 200, and every callback that got 200 is stored', async () => {
    const { sent, stoppedAt, refusal, byStatus } = await sendThroughOutage(t, 'off');
    expect(refusal.status).toBe(503); // a refusal that cannot be quarantined is retried, not lost
    expect(sent.every((x) => x.status === 200 || x.status === 503)).toBe(true);
    expect(sent.slice(0, stoppedAt).some((x) => x.status === 200)).toBe(true);
    expect(byStatus(503).length).toBeGreaterThan(0);
    expect(byStatus(503).every((x) => x.retryAfter === '1' && x.ms < 2500)).toBe(true);
    expect(sent.slice(-5).every((x) => x.status === 200)).toBe(true); // recovered by itself
    const stored = await storedCounts('off');
    expect(byStatus(200).filter((x) => !stored.has(x.callId))).toEqual([]);
  }, 60000);

  it('with the spool answers every callback 200, then stores each exactly once when PostgreSQL is back', async () => {
    const { sent, refusal } = await sendThroughOutage(spooling, 'spool');
    expect(refusal.status).toBe(503);
    expect(sent.filter((x) => x.status !== 200)).toEqual([]);
    expect(sent.every((x) => x.ms < 2500)).toBe(true);
    let stored = await storedCounts('spool');
    for (let i = 0; i < 50 && stored.size < sent.length; i++) {
      await new Promise((r) => setTimeout(r, 200));
      stored = await storedCounts('spool');
    }
    expect(sent.filter((x) => !stored.has(x.callId))).toEqual([]);
    expect([...stored.values()].every((n) => n === 1)).toBe(true);
    expect(spooling.app.ingest.spool?.stats().records).toBe(0);
    const ready = await fetch(`${spooling.baseUrl}/readyz`).then((r) => r.json());
    expect(ready).toMatchObject({ status: 'ready', database: true, spool: { records: 0 } });
  }, 60000);

  it('answers 503 and turns /readyz 503 once the spool is full, and never answers 200 for what it did not keep', async () => {
    const small = await startTestApp({ INGEST_TIMEOUT_MS: '1000', SPOOL_MAX_MB: '1' }, db as never);
    try {
      await stopServer(server);
      const statuses: number[] = [];
      for (let i = 0; i < 24; i++) {
        const res = await postCallback(small.baseUrl, makeCallback({ CallId: `full-${i}`, Padding: 'p'.repeat(60_000) }));
        statuses.push(res.status);
      }
      const ready = await fetch(`${small.baseUrl}/readyz`);
      server = await startServer(dir, port);
      expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
      expect(statuses.at(-1)).toBe(503);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ database: false, status: 'database unavailable and the spool full' });
      let stored = await storedCounts('full');
      for (let i = 0; i < 50 && stored.size < statuses.filter((s) => s === 200).length; i++) {
        await new Promise((r) => setTimeout(r, 200));
        stored = await storedCounts('full');
      }
      statuses.forEach((status, i) => status === 200 && expect(stored.get(`full-${i}`)).toBe(1));
    } finally {
      if (server.exitCode !== null) server = await startServer(dir, port);
      await small.stop();
    }
  }, 60000);
});
