import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { makeCallback, postCallback } from '../support/callbacks';
import { OwnPostgres } from '../support/own-postgres';
import { settle, startProcess } from '../support/ws';

let pg: OwnPostgres;
let spoolDir: string;
const apps: { stop(): Promise<void> }[] = [];
beforeAll(async () => {
  pg = await OwnPostgres.start();
  spoolDir = await mkdtemp(join(tmpdir(), 'calltrail-spool-crash-'));
}, 60000);
afterAll(async () => {
  for (const app of apps) await app.stop();
  await pg?.remove();
  await rm(spoolDir, { recursive: true, force: true });
});

async function storedCallIds(): Promise<Map<string, number>> {
  const client = new Client({ connectionString: pg.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ call_id: string; n: number }>(`SELECT call_id, count(*)::int AS n FROM call_events GROUP BY call_id`);
    return new Map(rows.map((r) => [r.call_id, r.n]));
  } finally {
    await client.end();
  }
}

describe('the outage spool across a crash of calltrail', () => {
  it('stores every acknowledged callback once after kill -9 of PostgreSQL, then of calltrail with a non-empty spool, restarted in standby while PostgreSQL is still down', async () => {
    const env = { DATABASE_URL: pg.url, SPOOL_DIR: spoolDir, SDKAPPIDS: '1400000001', INGEST_TIMEOUT_MS: '1000' };
    const lines: string[] = [];
    let app = await startProcess(env, { output: (line) => lines.push(line) });
    apps.push(app);
    const acknowledged: string[] = [];
    const send = async (prefix: string, n: number) => {
      for (let i = 0; i < n; i += 10) {
        const batch = Array.from({ length: Math.min(10, n - i) }, (_, k) => `${prefix}-${i + k}`);
        const replies = await Promise.all(batch.map((id) => postCallback(app.baseUrl, makeCallback({ CallId: id }))));
        replies.forEach((r, k) => r.status === 200 && acknowledged.push(batch[k]));
        expect(replies.map((r) => r.status)).toEqual(batch.map(() => 200));
      }
    };
    await send('before', 20);

    const crashedAt = Date.now();
    const linesAtCrash = lines.length;
    await pg.crash();
    const linesBefore = lines.length;
    await send('during', 200);
    const ready = await fetch(`${app.baseUrl}/readyz`).then(async (r) => ({ status: r.status, body: (await r.json()) as { spool: { records: number } } }));
    expect(ready).toMatchObject({ status: 200, body: { database: false, spool: { records: expect.any(Number) } } });
    expect(ready.body.spool.records).toBeGreaterThanOrEqual(200);
    // A few lines per outage, not one stack per failed batch.
    expect(lines.length - linesBefore).toBeLessThan(10);
    for (const line of lines.slice(linesBefore)) expect(() => JSON.parse(line)).not.toThrow();
    // The live hub polls every second and LISTEN reconnects within seconds: each warns once per 10 s.
    await settle(3000);
    const warned = (msg: string) => lines.slice(linesAtCrash).filter((l) => (JSON.parse(l) as { msg?: string }).msg === msg).length;
    const intervals = 1 + Math.floor((Date.now() - crashedAt) / 10_000);
    for (const msg of ['live read failed; retrying at the next wake-up', 'LISTEN connection lost; reconnecting']) {
      expect(warned(msg)).toBeGreaterThanOrEqual(1);
      expect(warned(msg)).toBeLessThanOrEqual(intervals);
    }

    app.child.kill('SIGKILL');
    await new Promise((r) => app.child.once('exit', r));
    expect((await readdir(spoolDir)).some((f) => f.endsWith('.spool'))).toBe(true);
    // Restarted while PostgreSQL is still down: it listens in standby and keeps spooling.
    app = await startProcess(env, { output: (line) => lines.push(line) });
    apps.push(app);
    expect(await fetch(`${app.baseUrl}/readyz`).then((r) => r.json())).toMatchObject({ database: false });
    await send('standby', 100);
    await pg.restart();
    for (let i = 0; i < 100; i++) {
      const state = (await fetch(`${app.baseUrl}/readyz`).then((r) => r.json(), () => null)) as { database?: boolean } | null;
      if (state?.database === true) break;
      await settle(200);
    }
    await send('after', 20);

    let stored = await storedCallIds();
    for (let i = 0; i < 100 && acknowledged.some((id) => !stored.has(id)); i++) {
      await settle(200);
      stored = await storedCallIds();
    }
    expect(acknowledged).toHaveLength(340);
    expect(acknowledged.filter((id) => !stored.has(id))).toEqual([]);
    expect([...stored.values()].every((n) => n === 1)).toBe(true);
    const after = await fetch(`${app.baseUrl}/readyz`).then((r) => r.json());
    expect(after).toMatchObject({ database: true, spool: { records: 0 } });
    expect((await readdir(spoolDir)).filter((f) => f.endsWith('.spool'))).toEqual([]);
  }, 90000);

  it('loses nothing acknowledged when SIGTERM arrives under load', async () => {
    const app = await startProcess({ DATABASE_URL: pg.url, SDKAPPIDS: '1400000001' });
    apps.push(app);
    const acknowledged: string[] = [];
    let n = 0;
    let running = true;
    const sender = async () => {
      while (running) {
        const id = `term-${n++}`;
        const res = await postCallback(app.baseUrl, makeCallback({ CallId: id })).catch(() => null);
        if (res?.status === 200) acknowledged.push(id);
        if (res === null) return; // the server has closed
      }
    };
    const senders = Promise.all(Array.from({ length: 8 }, sender));
    await settle(2000);
    app.child.kill('SIGTERM');
    const code = await new Promise((r) => app.child.once('exit', r));
    running = false;
    await senders;
    expect(code).toBe(0);
    expect(acknowledged.length).toBeGreaterThan(10);
    const stored = await storedCallIds();
    expect(acknowledged.filter((id) => !stored.has(id))).toEqual([]);
  }, 60000);
});
