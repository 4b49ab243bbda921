import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from 'graphql-ws';
import { loadConfig, type Config } from '../../src/config';
import { openDatabase, type Database } from '../../src/db/database';
import { freePort } from '../../src/db/free-port';
import { createApp, type CalltrailApp } from '../../src/http/app';
import { makeCallback, makeStatusCallback, postCallback, SDKAPPID, T0 } from '../support/callbacks';
import { openTestDatabase, type TestDatabase } from '../support/database';
import { createKey, gql } from '../support/graphql';
import { scrape } from '../support/metrics';
import { adminQuery } from '../support/pg-admin';
import { findPgBin, StreamingPair, waitUntil } from '../support/streaming-replica';
import { collect, settle, wsClient } from '../support/ws';

/**
 * DATABASE_READ_URL against a real streaming replica made with pg_basebackup from a PostgreSQL of the
 * test's own. Where the machine has no pg_basebackup (or PG_BIN names a folder without it), the read URL
 * is a second database instead, and the test says so: the routing is still checked, replication is not.
 */
const bin = findPgBin();

/** The replica under test: a real standby, or a second database standing in for one. */
interface Replica {
  readonly streaming: boolean;
  readonly primaryUrl: string;
  readonly readUrl: string;
  /** Everything written to the primary so far is visible on the replica. */
  caughtUp(): Promise<void>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** The replica stops answering, then answers again. */
  down(): Promise<void>;
  up(): Promise<void>;
  stop(): Promise<void>;
}

async function streamingReplica(dir: string): Promise<Replica> {
  const pair = await StreamingPair.start(dir);
  return {
    streaming: true,
    primaryUrl: pair.primary.url('calltrail'),
    readUrl: pair.standby.url('calltrail'),
    caughtUp: () => pair.waitReplayed(),
    pause: () => pair.pauseReplay(),
    resume: () => pair.resumeReplay(),
    down: () => pair.standby.stop(),
    up: async () => {
      await pair.standby.start();
      await pair.waitStreaming();
    },
    stop: () => pair.stop(),
  };
}

/** Two databases cloned from the migrated template: the read one never receives what the primary stores. */
async function secondDatabase(): Promise<Replica> {
  const primary: TestDatabase = await openTestDatabase();
  const read: TestDatabase = await openTestDatabase();
  await Promise.all([primary.close(), read.close()]); // only their URLs are used
  const adminUrl = process.env.CALLTRAIL_TEST_ADMIN_URL!;
  const name = new URL(read.url).pathname.slice(1);
  return {
    streaming: false,
    primaryUrl: primary.url,
    readUrl: read.url,
    caughtUp: async () => undefined,
    pause: async () => undefined,
    resume: async () => undefined,
    down: () => adminQuery(adminUrl, `DROP DATABASE ${name} WITH (FORCE)`),
    up: () => adminQuery(adminUrl, `CREATE DATABASE ${name} TEMPLATE ${process.env.CALLTRAIL_TEST_TEMPLATE}`),
    stop: async () => {
      await primary.drop();
      await read.drop();
    },
  };
}

interface Running {
  readonly config: Config;
  readonly db: Database;
  readonly app: CalltrailApp;
  readonly baseUrl: string;
  stop(): Promise<void>;
}

/** calltrail as `main` assembles it (openDatabase, then createApp) on port 0, with `env` over the test defaults. */
async function startCalltrail(env: Record<string, string>): Promise<Running> {
  const spoolDir = mkdtempSync(join(tmpdir(), 'calltrail-spool-'));
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', PORT: '0', HOST: '127.0.0.1', SPOOL_DIR: spoolDir, LIVE_POLL_MS: '200', STATS_ROLLUP_INTERVAL_MS: '200', ...env });
  const db = await openDatabase(config);
  const app = await createApp(config, { db });
  await app.server.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.server.address();
  if (address === null || typeof address === 'string') throw new Error('read replica test: expected a TCP address');
  return {
    config,
    db,
    app,
    baseUrl: `http://127.0.0.1:${address.port}`,
    async stop() {
      try {
        await app.close();
      } finally {
        await db.close();
        rmSync(spoolDir, { recursive: true, force: true });
      }
    },
  };
}

const EVENTS = `subscription($f: CallEventFilter, $after: String) {
  callEventAdded(filter: $f, after: $after) { cursor callId userId event call { callId status participants { userId } } } }`;
const CALL = `query($id: String!) { call(callId: $id) { callId status } calls(filter: { callId: $id }) { totalCount } callEvents(filter: { callId: $id }) { totalCount } }`;
const STATS = `{ callStats { calls } }`;

/** The three callbacks of a call answered and ended: start, accept, and the end status callback. */
const callOf = (callId: string, caller: string, callee: string, t: number) => [
  makeCallback({ CallId: callId, UserId: caller, EventTime: t }),
  makeCallback({ CallId: callId, UserId: callee, Role: 'callee', Event: 'accept_call', EventTime: t + 3 }),
  makeStatusCallback({ CallId: callId, UserId: caller, EventTime: t + 60 }),
];

async function post(baseUrl: string, bodies: Record<string, unknown>[]): Promise<void> {
  for (const body of bodies) expect((await postCallback(baseUrl, body)).status).toBe(200);
}

async function readyz(baseUrl: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${baseUrl}/readyz`);
  return { status: res.status, body: await res.json() };
}

const statsCalls = (data: any): number => (data.callStats as { calls: number }[]).reduce((n, r) => n + r.calls, 0);

let replica: Replica;
let main: Running;
let key: string;
const clients: Client[] = [];
const client = (baseUrl: string) => {
  const c = wsClient(baseUrl, key);
  clients.push(c);
  return c;
};
/** The cursor of the last event of the first call, for the resumed subscription. */
let resumeFrom: string;

beforeAll(async () => {
  if ('dir' in bin) {
    replica = await streamingReplica(bin.dir);
  } else {
    console.warn(`read-replica test: NO STREAMING REPLICA could be made (${bin.missing}; set PG_BIN to a folder with initdb, postgres and pg_basebackup). Routing is checked against a second database instead; replication is not tested.`);
    replica = await secondDatabase();
  }
  main = await startCalltrail({ DATABASE_URL: replica.primaryUrl, DATABASE_READ_URL: replica.readUrl });
  key = await createKey(main.db.dataSource, 'replica-test', null);
}, 90000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
  try {
    await main?.stop();
  } finally {
    await replica?.stop();
  }
}, 60000);

describe('DATABASE_READ_URL', () => {
  it('opens a read pool on the replica with the query timeout and its own application_name', async () => {
    expect(main.db.replica).not.toBeNull();
    expect(main.db.readDataSource).toBe(main.db.replica);
    expect(main.db.readDataSource).not.toBe(main.db.dataSource);
    const [setting] = await main.db.readDataSource.query(`SELECT current_setting('application_name') AS name, current_setting('statement_timeout') AS timeout, pg_is_in_recovery() AS recovery`);
    expect(setting).toEqual({ name: 'calltrail-read', timeout: '5s', recovery: replica.streaming });
  });

  it('reads queries and callStats from the replica while a resumed subscription reads the primary', async () => {
    const live = collect(client(main.baseUrl), EVENTS, { f: { callId: 'rr-1' } });
    await settle(300);
    await post(main.baseUrl, callOf('rr-1', 'rr-alice', 'rr-bob', T0));
    await live.waitFor(3, 10000);
    live.stop();
    resumeFrom = live.items[2].cursor;
    await replica.caughtUp();
    const before = await gql(main.baseUrl, key, CALL, { id: 'rr-1' });
    expect(before.errors).toBeUndefined();
    // A real replica has replayed the first call; the second database never gets it.
    expect(before.data!.call).toEqual(replica.streaming ? { callId: 'rr-1', status: 'ENDED' } : null);

    await replica.pause();
    await post(main.baseUrl, callOf('rr-2', 'rr-carol', 'rr-dave', T0 + 100));
    const [{ n: onPrimary }] = await main.db.dataSource.query(`SELECT count(*)::int AS n FROM calls WHERE call_id IN ('rr-1', 'rr-2')`);
    expect(onPrimary).toBe(2);

    // The primary: a subscription resumed from the first call's last cursor gets the second call at once,
    // nested call fields included (they are read where the event was: src/graphql/live-render.ts).
    const resumed = collect(client(main.baseUrl), EVENTS, { f: { sdkAppId: SDKAPPID }, after: resumeFrom });
    const items = await resumed.waitFor(3, 10000);
    expect(items.map((e) => [e.callId, e.userId, e.event])).toEqual([
      ['rr-2', 'rr-carol', 'START_CALL'],
      ['rr-2', 'rr-dave', 'ACCEPT_CALL'],
      ['rr-2', 'rr-carol', 'CALL_RESULT'],
    ]);
    expect(items[2].call).toEqual({ callId: 'rr-2', status: 'ENDED', participants: expect.arrayContaining([{ userId: 'rr-carol' }, { userId: 'rr-dave' }]) });
    expect(resumed.errors).toEqual([]);

    // The replica: the second call is not there yet, in any query, nor in the stats.
    const during = await gql(main.baseUrl, key, CALL, { id: 'rr-2' });
    expect(during.errors).toBeUndefined();
    expect(during.data).toEqual({ call: null, calls: { totalCount: 0 }, callEvents: { totalCount: 0 } });
    const participants = await gql(main.baseUrl, key, `{ participants(filter: { userId: "rr-dave" }) { totalCount } }`);
    expect(participants.data).toEqual({ participants: { totalCount: 0 } });
    const stats = await gql(main.baseUrl, key, STATS);
    expect(stats.errors).toBeUndefined();
    expect(statsCalls(stats.data)).toBe(replica.streaming ? 1 : 0);

    const ready = await readyz(main.baseUrl);
    expect(ready.status).toBe(200);
    expect(ready.body.database).toBe(true);
    const metrics = await scrape(main.baseUrl);
    expect(metrics.value('calltrail_db_replica_up')).toBe(1);
    if (replica.streaming) {
      expect(ready.body.replica).toMatchObject({ reachable: true, inRecovery: true, replayPaused: true, readsOn: 'replica' });
      expect(ready.body.replica.lagSeconds).toBeGreaterThan(0);
      expect(metrics.value('calltrail_db_replica_lag_seconds')).toBeGreaterThan(0);
      console.log(`read-replica test: replay paused, /readyz replica lag ${ready.body.replica.lagSeconds.toFixed(3)} s, calltrail_db_replica_lag_seconds ${metrics.value('calltrail_db_replica_lag_seconds').toFixed(3)}`);
    } else {
      expect(ready.body.replica).toMatchObject({ reachable: true, inRecovery: false, lagSeconds: null, readsOn: 'replica' });
      expect(metrics.value('calltrail_db_replica_lag_seconds')).toBeNaN();
    }

    if (!replica.streaming) return; // a second database never catches up
    await replica.resume();
    await waitUntil('the replica to show the second call', async () => (await gql(main.baseUrl, key, CALL, { id: 'rr-2' })).data?.call !== null, 15000);
    expect((await gql(main.baseUrl, key, CALL, { id: 'rr-2' })).data).toEqual({ call: { callId: 'rr-2', status: 'ENDED' }, calls: { totalCount: 1 }, callEvents: { totalCount: 3 } });
    expect(statsCalls((await gql(main.baseUrl, key, STATS)).data)).toBe(2);
    await waitUntil('the replica lag to be 0', async () => (await readyz(main.baseUrl)).body.replica.lagSeconds === 0, 15000);
    console.log(`read-replica test: after resume, /readyz ${JSON.stringify((await readyz(main.baseUrl)).body.replica)}`);
  }, 60000);

  it('reads the retention floor on the primary: a floor the replica has not replayed yet refuses a page after a cursor below it', async () => {
    await replica.pause();
    try {
      // As retention does when it deletes the events up to the newest (here without deleting them).
      await main.db.dataSource.query(`INSERT INTO event_retention_floor (position) SELECT max(position) FROM call_events`);
      const page = await gql(main.baseUrl, key, `query($a: String) { callEvents(after: $a) { edges { cursor } } }`, { a: resumeFrom });
      expect(page.errors?.[0].extensions).toMatchObject({ code: 'CURSOR_EXPIRED', field: 'after' });
    } finally {
      await main.db.dataSource.query(`DELETE FROM event_retention_floor`);
      await replica.resume();
    }
    expect((await gql(main.baseUrl, key, `query($a: String) { callEvents(after: $a) { edges { cursor } } }`, { a: resumeFrom })).errors).toBeUndefined();
  }, 60000);

  it('keeps ingest ready and answers queries from the primary while the replica is down, then reads it again', async () => {
    await replica.down();
    await post(main.baseUrl, callOf('rr-3', 'rr-erin', 'rr-frank', T0 + 200));
    const during = await gql(main.baseUrl, key, CALL, { id: 'rr-3' });
    expect(during.errors).toBeUndefined();
    expect(during.data!.call).toEqual({ callId: 'rr-3', status: 'ENDED' }); // the primary has it
    const ready = await readyz(main.baseUrl);
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ status: 'ready', database: true, replica: { reachable: false, readsOn: 'primary' } });
    // The replica's gauges are sampled at most once a second.
    await waitUntil('calltrail_db_replica_up to be 0', async () => (await scrape(main.baseUrl)).value('calltrail_db_replica_up') === 0, 5000);
    const metrics = await scrape(main.baseUrl);
    expect(metrics.value('calltrail_db_replica_lag_seconds')).toBeNaN();
    expect(metrics.value('calltrail_db_replica_failover_reads_total')).toBeGreaterThan(0);
    expect(metrics.value('calltrail_ready')).toBe(1);

    await replica.up();
    await waitUntil('the replica to answer again', async () => {
      const r = (await readyz(main.baseUrl)).body.replica;
      return r.reachable && r.readsOn === 'replica';
    }, 20000);
    const failovers = (await scrape(main.baseUrl)).value('calltrail_db_replica_failover_reads_total');
    expect((await gql(main.baseUrl, key, CALL, { id: 'rr-1' })).errors).toBeUndefined();
    expect((await scrape(main.baseUrl)).value('calltrail_db_replica_failover_reads_total')).toBe(failovers);
  }, 60000);

  it('with DATABASE_READ_FAILOVER=off, fails queries SERVICE_UNAVAILABLE while the replica is unreachable; ingest, readiness and subscriptions go on', async () => {
    const nowhere = `postgres://postgres@127.0.0.1:${await freePort()}/calltrail`; // nothing listens there
    const other = await startCalltrail({ DATABASE_URL: replica.primaryUrl, DATABASE_READ_URL: nowhere, DATABASE_READ_FAILOVER: 'off' });
    try {
      const query = await gql(other.baseUrl, key, CALL, { id: 'rr-1' });
      expect(query.errors?.[0].extensions?.code).toBe('SERVICE_UNAVAILABLE');
      expect(query.errors?.[0].message).toMatch(/^read replica: expected DATABASE_READ_URL to answer, got .+; retry later$/);
      await post(other.baseUrl, callOf('rr-4', 'rr-gina', 'rr-hal', T0 + 300));
      const ready = await readyz(other.baseUrl);
      expect(ready.status).toBe(200);
      expect(ready.body).toMatchObject({ status: 'ready', replica: { reachable: false, readsOn: 'none' } });
      const resumed = collect(client(other.baseUrl), EVENTS, { f: { callId: 'rr-4' }, after: resumeFrom });
      const items = await resumed.waitFor(3, 10000);
      expect(items.map((e) => e.call.callId)).toEqual(['rr-4', 'rr-4', 'rr-4']);
    } finally {
      await other.stop();
    }
  }, 60000);
});
