import { spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import type { Client } from 'graphql-ws';
import WebSocket from 'ws';
import { freePort } from '../../src/db/free-port';
import { startTestApp, type TestApp } from '../support/app';
import { openTestDatabase, type TestDatabase } from '../support/database';
import { createKey, gql } from '../support/graphql';
import { collect, settle, wsClient } from '../support/ws';

const MAX_COST = 15000; // below the default (20000), so the test also shows GRAPHQL_MAX_COST is read
const MAX_IN_FLIGHT = 2;
let db: TestDatabase;
let t: TestApp;
let prod: TestApp;
let key: string;
let otherKey: string;
const clients: Client[] = [];
/** Requests held open by the tests; aborted at the end so a failed test cannot keep the server from closing. */
const holds: { abort(): void }[] = [];
const ws = (app: TestApp, k = key) => {
  const c = wsClient(app.baseUrl, k);
  clients.push(c);
  return c;
};

beforeAll(async () => {
  db = await openTestDatabase();
  const env = { GRAPHQL_MAX_COST: String(MAX_COST), GRAPHQL_MAX_CONCURRENCY_PER_KEY: String(MAX_IN_FLIGHT) };
  t = await startTestApp(env, db);
  prod = await startTestApp({ ...env, NODE_ENV: 'production', SDKAPPIDS: '1400000001' }, db);
  key = await createKey(db.dataSource, 'bulkheads', null);
  otherKey = await createKey(db.dataSource, 'bulkheads-other', null);
});
afterAll(async () => {
  holds.forEach((h) => h.abort());
  await Promise.all(clients.map((c) => c.dispose()));
  await prod.stop();
  await t.stop();
  await db.drop();
});

/** The query of the issue: 20 aliases of nested unpaged lists under a page whose size is a variable. */
const AMPLIFY = `query($n: Int) { ${Array.from({ length: 20 }, (_, i) => `a${i}: calls(first: $n) { edges { node { participants { call { participants { call { events { call { callId } } } } } } } } }`).join(' ')} }`;
/** 1 + 500 × (1 + 1 + 10 + 10 × 2) = 16001 rows: over MAX_COST, under the default. */
const BETWEEN = `query($n: Int) { calls(first: $n) { edges { node { participants { userId } events { event call { callId } } } } } }`;

/** The first (and only) result of an operation sent over graphql-ws. */
async function overWs(app: TestApp, query: string, variables: Record<string, unknown> = {}) {
  const op = collect(ws(app), query, variables, (data) => data);
  for (let i = 0; i < 50 && op.items.length === 0 && op.errors.length === 0; i++) await settle(50);
  return { data: op.items[0], errors: JSON.stringify(op.errors) };
}

describe('row cost with variables', () => {
  it('refuses the amplification query over HTTP when its page size comes from a variable, naming the cost and the limit', async () => {
    const res = await gql(t.baseUrl, key, AMPLIFY, { n: 500 });
    expect(res.status).toBe(400);
    expect(res.data).toBeNull();
    expect(res.errors?.[0].extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(res.errors?.[0].message).toMatch(new RegExp(`^query cost: expected at most ${MAX_COST} rows .*, got an estimated \\d{8,};`));
  });

  it('refuses the same query over WebSocket, with the variables of the subscribe message', async () => {
    const res = await overWs(t, AMPLIFY, { n: 500 });
    expect(res.data).toBeUndefined();
    expect(res.errors).toContain(`query cost: expected at most ${MAX_COST} rows`);
    expect(res.errors).toContain('GRAPHQL_VALIDATION_FAILED');
  });

  it('refuses 20 aliased callStats over HTTP and WebSocket, as the scans they are, and serves a dashboard of a few', async () => {
    const stats = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `s${i}: callStats(interval: HOUR) { bucket calls }`).join(' ')} }`;
    const refused = await gql(t.baseUrl, key, stats(20));
    expect(refused.status).toBe(400);
    expect(refused.errors?.[0].message).toMatch(new RegExp(`^query cost: expected at most ${MAX_COST} rows .*, got an estimated \\d+;`));
    expect((await overWs(t, stats(20))).errors).toContain(`query cost: expected at most ${MAX_COST} rows`);
    const dashboard = await gql(t.baseUrl, key, `{ calls { totalCount } ${stats(3).slice(1, -1)} }`);
    expect(dashboard.errors).toBeUndefined();
    expect(dashboard.data).toEqual({ calls: { totalCount: 0 }, s0: [], s1: [], s2: [] });
  });

  it('reads the limit from GRAPHQL_MAX_COST and lets the same query through with a smaller page', async () => {
    expect((await gql(t.baseUrl, key, BETWEEN, { n: 500 })).errors?.[0].message).toMatch(/^query cost: expected at most 15000 rows .*, got an estimated 16001;/);
    const small = await gql(t.baseUrl, key, BETWEEN, { n: 400 });
    expect(small.errors).toBeUndefined();
    expect(small.data).toEqual({ calls: { edges: [] } });
  });
});

/** A POST /graphql whose body is held back: the server has its headers, so it is in flight. */
function held(k: string) {
  const body = JSON.stringify({ query: '{ calls(first: 1) { totalCount } }' });
  const req = httpRequest(`${t.baseUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${k}`, 'content-length': Buffer.byteLength(body) },
  });
  const answered = new Promise<{ status: number; retryAfter?: string; text: string }>((resolve, reject) => {
    req.on('response', (res) => {
      let text = '';
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined, text }));
    });
    req.on('error', reject);
  });
  answered.catch(() => undefined); // an aborted request rejects; the tests that abort do not wait for it
  req.flushHeaders();
  req.write(body.slice(0, 10));
  const hold = { answered, finish: () => req.end(body.slice(10)), abort: () => req.destroy() };
  holds.push(hold);
  return hold;
}

describe('requests in flight per API key', () => {
  it(`answers 429 with Retry-After past GRAPHQL_MAX_CONCURRENCY_PER_KEY (${MAX_IN_FLIGHT}) requests of one key, and serves other keys`, async () => {
    const holding = [held(key), held(key)];
    await settle(200);
    const refused = await gql(t.baseUrl, key, '{ calls { totalCount } }');
    expect(refused.status).toBe(429);
    expect(refused.errors?.[0]).toEqual({
      message: `concurrency: expected at most ${MAX_IN_FLIGHT} GraphQL requests in flight per API key on this server, got one more; retry after 1 s`,
      extensions: { code: 'RATE_LIMITED', maxConcurrency: MAX_IN_FLIGHT },
    });
    const raw = await fetch(`${t.baseUrl}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: '{"query":"{ calls { totalCount } }"}' });
    expect(raw.headers.get('retry-after')).toBe('1');
    expect((await gql(t.baseUrl, otherKey, '{ calls { totalCount } }')).status).toBe(200);
    holding.forEach((h) => h.finish());
    expect((await Promise.all(holding.map((h) => h.answered))).map((r) => r.status)).toEqual([200, 200]);
  });

  it('frees the slot of a finished request and of an aborted one', async () => {
    const first = held(key);
    const second = held(key);
    await settle(200);
    first.finish();
    expect((await first.answered).status).toBe(200);
    second.abort();
    await settle(200);
    // Both slots are free again: two more can be held, and only a third is refused.
    const again = [held(key), held(key)];
    await settle(200);
    expect((await gql(t.baseUrl, key, '{ calls { totalCount } }')).status).toBe(429);
    again.forEach((h) => h.finish());
    expect((await Promise.all(again.map((h) => h.answered))).map((r) => r.status)).toEqual([200, 200]);
    expect((await gql(t.baseUrl, key, '{ calls { totalCount } }')).status).toBe(200);
  });
});

/** Holds `calls` locked, so every query reading it waits in PostgreSQL (in flight) until `release`. */
async function lockCalls() {
  const runner = db.dataSource.createQueryRunner();
  await runner.connect();
  await runner.startTransaction();
  await runner.query('LOCK TABLE calls IN ACCESS EXCLUSIVE MODE');
  let released: Promise<void> | null = null;
  const hold = {
    // The listings' reads only: each turn of the stats rollup's refresh takes `LOCK TABLE calls IN ACCESS SHARE MODE`, and waits too.
    waiting: async () =>
      Number(
        (
          await db.dataSource.query(
            `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a USING (pid)
             WHERE NOT l.granted AND l.relation = 'calls'::regclass AND a.query LIKE 'SELECT % FROM calls c %'`,
          )
        )[0].n,
      ),
    release: () => (released ??= runner.rollbackTransaction().finally(() => runner.release())),
    abort: () => void hold.release(),
  };
  holds.push(hold);
  return hold;
}

/** Runs `test` with `calls` locked, and unlocks it whatever happens. */
async function withCallsLocked(test: (lock: Awaited<ReturnType<typeof lockCalls>>) => Promise<void>) {
  const lock = await lockCalls();
  try {
    await test(lock);
  } finally {
    await lock.release();
  }
}

const COUNT = '{ calls(first: 1) { totalCount } }';
const rateLimited = (errors: unknown[]) => errors.flat().filter((e) => (e as { extensions?: { code?: string } }).extensions?.code === 'RATE_LIMITED');

describe('queries in flight per API key over WebSocket', () => {
  it('counts queries of 2 connections × 10 concurrent subscribe messages against the limit and refuses the rest with RATE_LIMITED error messages', async () => {
    await withCallsLocked(async (lock) => {
      const ops = [ws(t), ws(t)].flatMap((client) => Array.from({ length: 10 }, () => collect(client, COUNT, {}, (data) => data)));
      for (let i = 0; i < 100 && (rateLimited(ops.flatMap((o) => o.errors)).length < 18 || (await lock.waiting()) < MAX_IN_FLIGHT); i++) await settle(50);
      const refused = rateLimited(ops.flatMap((o) => o.errors));
      expect(refused).toHaveLength(20 - MAX_IN_FLIGHT);
      expect(refused[0]).toEqual({
        message: `concurrency: expected at most ${MAX_IN_FLIGHT} GraphQL requests in flight per API key on this server, got one more; retry after 1 s`,
        extensions: { code: 'RATE_LIMITED', maxConcurrency: MAX_IN_FLIGHT },
      });
      expect(await lock.waiting()).toBe(MAX_IN_FLIGHT);
      // The same slots as HTTP: the key's HTTP request is refused while its WebSocket queries run.
      expect((await gql(t.baseUrl, key, COUNT)).status).toBe(429);
      await lock.release();
      const served = ops.filter((o) => o.errors.length === 0);
      await Promise.all(served.map((o) => o.waitFor(1)));
      expect(served.map((o) => o.items[0])).toEqual([{ calls: { totalCount: 0 } }, { calls: { totalCount: 0 } }]);
    });
  });

  it('frees the slots when the queries end and keeps the refused connection open for the next query', async () => {
    const client = ws(t);
    await withCallsLocked(async (lock) => {
      const holding = [held(key), held(key)];
      await settle(200);
      const refused = collect(client, COUNT, {}, (data) => data);
      for (let i = 0; i < 50 && refused.errors.length === 0; i++) await settle(50);
      expect(rateLimited(refused.errors)).toHaveLength(1);
      holding.forEach((h) => h.finish());
      await lock.release();
      expect((await Promise.all(holding.map((h) => h.answered))).map((r) => r.status)).toEqual([200, 200]);
      const again = collect(client, COUNT, {}, (data) => data);
      expect(await again.waitFor(1)).toEqual([{ calls: { totalCount: 0 } }]);
      expect((await gql(t.baseUrl, key, COUNT)).status).toBe(200);
    });
  });

  it('does not count open subscriptions: a key with more subscriptions than the limit still queries', async () => {
    const subscriber = await createKey(db.dataSource, 'bulkheads-subscriber', null);
    const client = ws(t, subscriber);
    const subscriptions = Array.from({ length: MAX_IN_FLIGHT + 1 }, () => collect(client, 'subscription { callEventAdded { cursor } }'));
    await settle(300);
    expect(subscriptions.flatMap((s) => s.errors)).toEqual([]);
    expect(await collect(client, COUNT, {}, (data) => data).waitFor(1)).toEqual([{ calls: { totalCount: 0 } }]);
    expect((await gql(t.baseUrl, subscriber, COUNT)).status).toBe(200);
    subscriptions.forEach((s) => s.stop());
  });
});

describe('production over WebSocket', () => {
  it('refuses introspection over graphql-ws in production, as over HTTP', async () => {
    const refused = await overWs(prod, '{ __schema { types { name } } }');
    expect(refused.data).toBeUndefined();
    expect(refused.errors).toMatch(/introspection has been disabled/i);
    expect((await overWs(prod, '{ __type(name: "Call") { name } }')).errors).toMatch(/introspection has been disabled/i);
    expect((await overWs(t, '{ __type(name: "Call") { name } }')).data).toEqual({ __type: { name: 'Call' } });
  });

  it('gives no "Did you mean" suggestions over graphql-ws in production', async () => {
    const typo = '{ calls { totalCont } }';
    const prodErrors = (await overWs(prod, typo)).errors;
    expect(prodErrors).toContain('Cannot query field');
    expect(prodErrors).not.toMatch(/did you mean/i);
    expect((await overWs(t, typo)).errors).toMatch(/did you mean/i);
    const badEnum = (await overWs(prod, 'query($m: MediaType) { calls(filter: { mediaType: $m }) { totalCount } }', { m: 'VIDO' })).errors;
    expect(badEnum).toContain('VIDO');
    expect(badEnum).not.toMatch(/did you mean/i);
  });
});

/** calltrail as its own process (the real entry point), with its stdout and stderr kept. */
async function startLoggingProcess(env: Record<string, string>) {
  const port = await freePort();
  const output = { stdout: '', stderr: '' };
  const child = spawn(process.execPath, [require.resolve('tsx/cli'), join(__dirname, '../../src/main.ts')], {
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), NODE_ENV: 'test', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (d) => (output.stdout += d));
  child.stderr.on('data', (d) => (output.stderr += d));
  const baseUrl = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 150 && !(await fetch(`${baseUrl}/readyz`).then((r) => r.ok, () => false)); i++) {
    if (child.exitCode !== null) throw new Error(`calltrail exited with ${child.exitCode}: ${output.stderr}`);
    await settle(100);
  }
  const stop = () => new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : (child.once('exit', () => resolve()), child.kill('SIGTERM'))));
  return { baseUrl, output, stop };
}

describe('WebSocket errors', () => {
  it('closes a socket that sends a message over 64 KiB with 1009 and logs one JSON line, not a console stack', async () => {
    const app = await startLoggingProcess({ DATABASE_URL: db.url, LOG_LEVEL: 'warn', SPOOL: 'off' });
    try {
      const socket = new WebSocket(`${app.baseUrl.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
      await new Promise((resolve) => socket.once('open', resolve));
      const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
      socket.send(JSON.stringify({ type: 'connection_init', payload: { pad: 'x'.repeat(70 * 1024) } }));
      expect(await closed).toBe(1009);
      await settle(300);
      const lines = app.output.stdout.split('\n').filter((l) => l.trim() !== '');
      const parsed = lines.map((l) => JSON.parse(l) as { msg?: string; code?: string; err?: { message?: string } });
      const socketErrors = parsed.filter((l) => /WebSocket/.test(l.msg ?? ''));
      expect(socketErrors).toEqual([expect.objectContaining({ code: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', err: expect.objectContaining({ message: 'Max payload size exceeded' }) })]);
      expect(app.output.stderr).not.toMatch(/Internal error emitted|Max payload size exceeded/);
    } finally {
      await app.stop();
    }
  }, 30000);
});
