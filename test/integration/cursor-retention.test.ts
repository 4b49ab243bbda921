import type { Client } from 'graphql-ws';
import type { DataSource } from 'typeorm';
import { CallEventRepository } from '../../src/calls/call-event.repository';
import { EventMaintenance, type MaintenanceReport } from '../../src/calls/event-maintenance';
import { EventPartitionRepository } from '../../src/db/event-partitions.repository';
import { ALL_APPS } from '../../src/domain/app-scope';
import { eventCursor } from '../../src/domain/cursor';
import { IngestRepository } from '../../src/ingest/ingest.repository';
import { parseV1Callback } from '../../src/ingest/trtc-v1.schema';
import { startTestApp, type TestApp } from '../support/app';
import { commandOf, makeCallback } from '../support/callbacks';
import { createKey, gql, type GraphQLReply } from '../support/graphql';
import { openTestDatabase } from '../support/database';
import { collect, wsClient } from '../support/ws';

const A = '1400000001';
const B = '1400000002';
const at = (iso: string) => Date.parse(iso) / 1000;

/** A maintenance run of a replica over `ds` as of `now`, monthly partitions, none ahead; `retentionDays` null keeps every event. */
const maintenanceRun = (ds: DataSource, now: number, retentionDays: number | null): Promise<MaintenanceReport> =>
  new EventMaintenance({
    partitions: new EventPartitionRepository(ds),
    interval: 'month',
    ahead: 0,
    retentionDays,
    callRetentionDays: null,
    intervalMs: 60_000,
    exclusive: async (work) => ({ acquired: true, value: await work() }),
    nowSeconds: () => now,
  }).runNow();

const EVENTS = `query($after: String, $first: Int) { callEvents(first: $first, after: $after) { edges { node { callId } } pageInfo { endCursor hasNextPage } } }`;
const FEED = `subscription($after: String) { callEventAdded(after: $after) { callId cursor } }`;
type Page = { edges: { node: { callId: string } }[]; pageInfo: { endCursor: string | null; hasNextPage: boolean } };
const ids = (page: Page) => page.edges.map((e) => e.node.callId);

/**
 * Retention deletes old events a partition (a span of event time) at a time, but keeps every event
 * after the oldest one it keeps, late callbacks of old days included: what is stored is always every
 * event after some position. A cursor below the highest position deleted (the floor) would skip
 * events that are gone: reading or resuming after it is refused with CURSOR_EXPIRED instead. Every
 * stored event's cursor is above the floor, so paging through what is kept is never refused.
 */
describe('cursors and retention', () => {
  let t: TestApp;
  let keyAll: string;
  let keyA: string;
  const clients: Client[] = [];
  const positions = new Map<string, string>();
  const cursor = (callId: string) => eventCursor(positions.get(callId)!);
  const floor = async () => (await t.db.dataSource.query(`SELECT position::text AS p FROM event_retention_floor`))[0]?.p ?? null;
  const where = async (callId: string) => (await t.db.dataSource.query(`SELECT tableoid::regclass::text AS t FROM call_events WHERE call_id = $1`, [callId]))[0]?.t ?? null;

  /** Stores one event of `callId` for `app` at `time` (through the batch transaction, without the horizon check). */
  async function store(app: string, callId: string, time: number): Promise<void> {
    const body = makeCallback({ CallId: callId, EventTime: time });
    await new IngestRepository(t.db.dataSource).writeBatch([parseV1Callback(app, { sdkappid: app, command: commandOf(body) }, body)]);
    const [row]: { p: string }[] = await t.db.dataSource.query(`SELECT position::text AS p FROM call_events WHERE call_id = $1`, [callId]);
    positions.set(callId, row.p);
  }

  /** The maintenance run of a replica as of `now`, keeping events RETENTION_DAYS=60 (null: keeping them all). */
  async function retention(now: number, retentionDays: number | null = 60): Promise<MaintenanceReport> {
    const report = await maintenanceRun(t.db.dataSource, now, retentionDays);
    if (report.outcome !== 'ok') throw new Error(`retention: expected ok, got ${report.outcome}: ${String(report.error)}`);
    return report;
  }

  const subscribe = (key: string, variables: Record<string, unknown>) => {
    const c = wsClient(t.baseUrl, key);
    clients.push(c);
    return collect<{ callId: string }>(c, FEED, variables);
  };
  const errorOf = async (sub: ReturnType<typeof subscribe>) => {
    for (let waited = 0; sub.errors.length === 0 && waited < 10_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    return JSON.stringify(sub.errors);
  };

  beforeAll(async () => {
    t = await startTestApp({ LIVE_POLL_MS: '200' });
    keyAll = await createKey(t.db.dataSource, 'all', null);
    keyA = await createKey(t.db.dataSource, 'a', [A]);
    for (const month of ['2031-03-10', '2031-04-05', '2031-06-05']) await retention(at(`${month}T00:00:00Z`), null);
    // In position order: two March events, one of April, a late retry of March's last second (stored after
    // April's first event), two of June, one of the other app.
    await store(A, 'march-1', at('2031-03-05T00:00:00Z'));
    await store(A, 'march-2', at('2031-03-20T00:00:00Z'));
    await store(A, 'april-2', at('2031-04-02T00:00:00Z'));
    await store(A, 'late-march', at('2031-03-31T23:59:59Z'));
    await store(A, 'june-1', at('2031-06-10T00:00:00Z'));
    await store(A, 'june-2', at('2031-06-11T00:00:00Z'));
    await store(B, 'other-app', at('2031-06-11T00:00:00Z'));
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await t.stop();
  });

  it('drops a partition past the horizon but keeps its events stored after the oldest event kept, and records the highest position deleted', async () => {
    // As of 12 June, March is past 60 days and a day: its partition goes. April's is kept whole, though
    // its first days are past the horizon too.
    const report = await retention(at('2031-06-12T00:00:00Z'));
    expect(report.dropped).toContain('call_events_p20310301');
    expect(report.dropped).not.toContain('call_events_p20310401');
    expect(report.keptLate).toBe(1);
    expect(await where('march-1')).toBeNull();
    expect(await where('march-2')).toBeNull();
    // The late retry has a position after april-2's: deleting it would leave a hole among the events kept.
    expect(await where('late-march')).toBe('call_events_default');
    expect(await floor()).toBe(positions.get('march-2'));
    // A second run deletes nothing more: the late event is still after the oldest kept one.
    const again = await retention(at('2031-06-12T00:00:00Z'));
    expect(again.strayDeleted).toBe(0);
    expect(await where('late-march')).toBe('call_events_default');
  });

  it('refuses a page after a cursor below the floor, naming the field, the floor and the cursor', async () => {
    const reply = await gql(t.baseUrl, keyAll, EVENTS, { after: cursor('march-1') });
    expect(reply.data).toBeNull();
    expect(reply.errors).toHaveLength(1);
    expect(reply.errors![0].extensions).toMatchObject({ code: 'CURSOR_EXPIRED', field: 'after' });
    expect(reply.errors![0].message).toBe(
      `after: expected a cursor at or after position ${positions.get('march-2')} (retention, RETENTION_DAYS, deleted the events up to there), ` +
        `got position ${positions.get('march-1')}: events after it are gone; read again without \`after\``,
    );
  });

  it('pages through every event kept, from the first, without a refusal; and from the floor itself', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    for (let pages = 0; pages < 10; pages++) {
      const reply: GraphQLReply<{ callEvents: Page }> = await gql<{ callEvents: Page }>(t.baseUrl, keyAll, EVENTS, { first: 1, after });
      expect(reply.errors).toBeUndefined();
      seen.push(...ids(reply.data!.callEvents));
      if (!reply.data!.callEvents.pageInfo.hasNextPage) break;
      after = reply.data!.callEvents.pageInfo.endCursor;
    }
    expect(seen).toEqual(['april-2', 'late-march', 'june-1', 'june-2', 'other-app']);
    const fromFloor = await gql<{ callEvents: Page }>(t.baseUrl, keyAll, EVENTS, { first: 10, after: cursor('march-2') });
    expect(fromFloor.errors).toBeUndefined();
    expect(ids(fromFloor.data!.callEvents)).toEqual(['april-2', 'late-march', 'june-1', 'june-2', 'other-app']);
  });

  it('ends a resume from below the floor with CURSOR_EXPIRED, and resumes from the floor with every event kept', async () => {
    const stale = subscribe(keyA, { after: cursor('march-1') });
    const fresh = subscribe(keyA, { after: cursor('march-2') });
    await fresh.waitFor(4);
    expect(await errorOf(stale)).toContain('"code":"CURSOR_EXPIRED"');
    expect(stale.items).toEqual([]);
    expect(fresh.items.map((e) => e.callId)).toEqual(['april-2', 'late-march', 'june-1', 'june-2']);
  });

  it('deletes a late event it kept once every event stored before it is gone', async () => {
    // As of 2 July, April is past 60 days and a day: it goes, and the late March event with it.
    const report = await retention(at('2031-07-02T00:00:00Z'));
    expect(report.dropped).toContain('call_events_p20310401');
    expect(report.strayDeleted).toBe(1);
    expect(await where('april-2')).toBeNull();
    expect(await where('late-march')).toBeNull();
    expect(await floor()).toBe(positions.get('late-march'));
    expect((await gql(t.baseUrl, keyAll, EVENTS, { after: cursor('april-2') })).errors?.[0].extensions?.code).toBe('CURSOR_EXPIRED');
    const rest = await gql<{ callEvents: Page }>(t.baseUrl, keyAll, EVENTS, { first: 10, after: cursor('late-march') });
    expect(ids(rest.data!.callEvents)).toEqual(['june-1', 'june-2', 'other-app']);
  });

  it('refuses a page read while a drop of the events after its cursor commits: the floor is read after the rows', async () => {
    await retention(at('2031-08-02T00:00:00Z'), null); // August's partition
    await store(A, 'july-5', at('2031-07-05T00:00:00Z'));
    await store(A, 'august-1', at('2031-08-05T00:00:00Z'));
    await store(A, 'july-6', at('2031-07-06T00:00:00Z'));
    const events = new CallEventRepository(t.db.dataSource);
    const from = { first: 10, after: cursor('july-5') };
    expect((await events.list(ALL_APPS, null, from)).nodes.map((e) => e.callId)).toEqual(['august-1', 'july-6']);

    // A drop of August, as retention runs it, left uncommitted: the page read waits for its lock on call_events.
    const drop = t.db.dataSource.createQueryRunner();
    await drop.startTransaction();
    try {
      await drop.query(`INSERT INTO event_retention_floor (position) SELECT max(position) FROM call_events_p20310801
        ON CONFLICT (id) DO UPDATE SET position = greatest(event_retention_floor.position, excluded.position)`);
      await drop.query(`DROP TABLE call_events_p20310801`);
      const page = events.list(ALL_APPS, null, from);
      page.catch(() => undefined);
      for (let waited = 0; waited < 10_000; waited += 20) {
        const waiting: unknown[] = await t.db.dataSource.query(`SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%FROM call_events e%'`);
        if (waiting.length > 0) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      await drop.commitTransaction();
      // The page lacks august-1: it is refused, not answered with july-6 alone.
      await expect(page).rejects.toMatchObject({ code: 'CURSOR_EXPIRED', field: 'after' });
    } finally {
      if (drop.isTransactionActive) await drop.rollbackTransaction();
      await drop.release();
    }
  });

  it('ends a resume from a cursor beyond any position this database gave out (a restore or a failover)', async () => {
    const ahead = subscribe(keyAll, { after: eventCursor('1000000000') });
    const error = await errorOf(ahead);
    expect(ahead.items).toEqual([]);
    expect(error).toContain('"code":"CURSOR_EXPIRED"');
    expect(error).toContain('got position 1000000000, beyond every position it gave out: it comes from before a restore or a failover');
    // A page after it too (queries read the primary here).
    const page = await gql(t.baseUrl, keyAll, EVENTS, { after: eventCursor('1000000000') });
    expect(page.errors?.[0].extensions).toMatchObject({ code: 'CURSOR_EXPIRED', field: 'after' });
    // The newest stored event's cursor is not beyond it.
    const [{ p }]: { p: string }[] = await t.db.dataSource.query(`SELECT max(position)::text AS p FROM call_events`);
    expect((await gql(t.baseUrl, keyAll, EVENTS, { after: eventCursor(p) })).errors).toBeUndefined();
  });

  it('postpones the drop of a partition holding more events to keep than a drop moves', async () => {
    const repo = new EventPartitionRepository(t.db.dataSource);
    await retention(at('2031-10-02T00:00:00Z'), null);
    await store(A, 'october-1', at('2031-10-05T00:00:00Z'));
    await store(A, 'october-2', at('2031-10-06T00:00:00Z'));
    const keepAbove = positions.get('july-6')!;
    expect(await repo.dropAll(['call_events_p20311001'], keepAbove, 1)).toEqual({ outcome: 'postponed', name: 'call_events_p20311001', keep: 2 });
    expect(await where('october-1')).toBe('call_events_p20311001');
    const before = await floor();
    expect(await repo.dropAll(['call_events_p20311001'], keepAbove, 2)).toEqual({ outcome: 'dropped', dropped: ['call_events_p20311001'], kept: 2, strayDeleted: 0 });
    expect(await where('october-1')).toBe('call_events_default');
    expect(await where('october-2')).toBe('call_events_default');
    expect(await floor()).toBe(before); // nothing was deleted
  });
});

describe('a retention run that cannot drop one of its partitions', () => {
  it('drops none of them and leaves the floor where it was, so no kept event falls below it', async () => {
    const db = await openTestDatabase();
    const ds = db.dataSource;
    const run = (now: number, retentionDays: number | null) => maintenanceRun(ds, now, retentionDays);
    const store = async (callId: string, time: number) => {
      const body = makeCallback({ CallId: callId, EventTime: time });
      await new IngestRepository(ds).writeBatch([parseV1Callback(A, { sdkappid: A, command: commandOf(body) }, body)]);
    };
    const stored = async () => (await ds.query(`SELECT call_id FROM call_events ORDER BY position`)).map((r: { call_id: string }) => r.call_id);
    const floor = async () => (await ds.query(`SELECT position::text AS p FROM event_retention_floor`))[0]?.p ?? null;
    const held = ds.createQueryRunner();
    try {
      for (const month of ['2031-01-10', '2031-02-10', '2031-06-05']) await run(at(`${month}T00:00:00Z`), null);
      // In position order: one of February, a late retry of January's last second, one of June.
      await store('feb-a', at('2031-02-10T00:00:00Z'));
      await store('jan-late', at('2031-01-31T23:59:59Z'));
      await store('june-1', at('2031-06-10T00:00:00Z'));
      // A long read of February (a BI query, say) keeps its partition from being dropped.
      await held.startTransaction();
      await held.query(`SELECT count(*) FROM call_events_p20310201`);
      const failed = await run(at('2031-06-12T00:00:00Z'), 60);
      expect(failed.outcome).toBe('error');
      expect(String(failed.error)).toContain('lock timeout');
      // January alone would have gone, and jan-late's position with it, above feb-a which stays.
      expect(failed.dropped).toEqual([]);
      expect(await floor()).toBeNull();
      expect(await stored()).toEqual(['feb-a', 'jan-late', 'june-1']);
      await held.rollbackTransaction();
      const report = await run(at('2031-06-12T00:00:00Z'), 60);
      expect(report.dropped).toEqual(expect.arrayContaining(['call_events_p20310101', 'call_events_p20310201']));
      expect(await stored()).toEqual(['june-1']);
      expect(await floor()).not.toBeNull();
    } finally {
      if (held.isTransactionActive) await held.rollbackTransaction();
      await held.release();
      await db.drop();
    }
  }, 60000);
});
