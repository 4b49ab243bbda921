import type { Client } from 'graphql-ws';
import { CallEventRepository } from '../../src/calls/call-event.repository';
import { EventMaintenance } from '../../src/calls/event-maintenance';
import { ALL_APPS } from '../../src/domain/app-scope';
import { EventPartitionRepository } from '../../src/db/event-partitions.repository';
import { eventCursor } from '../../src/domain/cursor';
import { IngestRepository } from '../../src/ingest/ingest.repository';
import { parseV1Callback } from '../../src/ingest/trtc-v1.schema';
import { startTestApp, type TestApp } from '../support/app';
import { commandOf, makeCallback } from '../support/callbacks';
import { createKey, gql } from '../support/graphql';
import { collect, wsClient } from '../support/ws';

const A = '1400000001';
const B = '1400000002';
const at = (iso: string) => Date.parse(iso) / 1000;

const EVENTS = `query($after: String, $f: CallEventFilter) { callEvents(first: 10, after: $after, filter: $f) { edges { node { callId cursor } } } }`;
const FEED = `subscription($after: String, $f: CallEventFilter) { callEventAdded(filter: $f, after: $after) { callId cursor } }`;

/**
 * Retention deletes whole partitions by event time, so it can delete an event whose position is newer
 * than a cursor a client holds (a late callback of an old day). Reading on from that cursor would
 * silently skip it: the read and the resume are refused with CURSOR_EXPIRED instead.
 */
describe('cursors and retention', () => {
  let t: TestApp;
  let keyAll: string;
  let keyA: string;
  let keyB: string;
  const clients: Client[] = [];
  const positions = new Map<string, string>();
  const cursor = (callId: string) => eventCursor(positions.get(callId)!);

  /** Stores one event of `callId` for `app` at `time` (through the batch transaction, without the horizon check). */
  async function store(app: string, callId: string, time: number): Promise<void> {
    const body = makeCallback({ CallId: callId, EventTime: time });
    await new IngestRepository(t.db.dataSource).writeBatch([parseV1Callback(app, { sdkappid: app, command: commandOf(body) }, body)]);
    const [row]: { p: string }[] = await t.db.dataSource.query(`SELECT position::text AS p FROM call_events WHERE call_id = $1`, [callId]);
    positions.set(callId, row.p);
  }

  /** The maintenance run of a replica as of `now`, keeping events RETENTION_DAYS=60 (null: keeping them all). */
  const retention = (now: number, retentionDays: number | null = 60) =>
    new EventMaintenance({
      partitions: new EventPartitionRepository(t.db.dataSource),
      interval: 'month',
      ahead: 0,
      retentionDays,
      callRetentionDays: null,
      intervalMs: 60_000,
      exclusive: async (work) => ({ acquired: true, value: await work() }),
      nowSeconds: () => now,
    }).runNow();

  const subscribe = (key: string, variables: Record<string, unknown>) => {
    const c = wsClient(t.baseUrl, key);
    clients.push(c);
    return collect<{ callId: string }>(c, FEED, variables);
  };

  beforeAll(async () => {
    t = await startTestApp({ LIVE_POLL_MS: '200' });
    keyAll = await createKey(t.db.dataSource, 'all', null);
    keyA = await createKey(t.db.dataSource, 'a', [A]);
    keyB = await createKey(t.db.dataSource, 'b', [B]);
    for (const month of ['2031-03-10', '2031-06-05']) await retention(at(`${month}T00:00:00Z`), null);
    // In position order: a current event, a late one of March, another current one, one of the other app.
    await store(A, 'current-1', at('2031-06-10T00:00:00Z'));
    await store(A, 'late-march', at('2031-03-15T00:00:00Z'));
    await store(A, 'current-2', at('2031-06-11T00:00:00Z'));
    await store(B, 'other-app', at('2031-06-11T00:00:00Z'));
    // As of 12 June, March is past 60 days and a day: its partition goes, and the late event with it.
    const report = await retention(at('2031-06-12T00:00:00Z'));
    expect(report.outcome).toBe('ok');
    expect(report.dropped).toContain('call_events_p20310301');
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await t.stop();
  });

  it('records, per app, the highest position a dropped partition held', async () => {
    const floors = await t.db.dataSource.query(`SELECT sdk_app_id, position::text AS position FROM event_retention_floors ORDER BY 1`);
    expect(floors).toEqual([{ sdk_app_id: A, position: positions.get('late-march') }]);
  });

  it('refuses a page after a cursor below the floor, naming the field, the floor and the cursor', async () => {
    const reply = await gql(t.baseUrl, keyAll, EVENTS, { after: cursor('current-1') });
    expect(reply.data).toBeNull();
    expect(reply.errors).toHaveLength(1);
    expect(reply.errors![0].extensions).toMatchObject({ code: 'CURSOR_EXPIRED', field: 'after' });
    expect(reply.errors![0].message).toBe(
      `after: expected a cursor at or after position ${positions.get('late-march')} (events up to there were deleted by retention, RETENTION_DAYS), ` +
        `got position ${positions.get('current-1')}: events after it may be gone; read again without \`after\``,
    );
  });

  it('pages on from a cursor at or above the floor, and for an app that lost nothing', async () => {
    const fromLate = await gql(t.baseUrl, keyAll, EVENTS, { after: cursor('late-march') });
    expect(fromLate.errors).toBeUndefined();
    expect(fromLate.data!.callEvents.edges.map((e: { node: { callId: string } }) => e.node.callId)).toEqual(['current-2', 'other-app']);
    // App B lost nothing: its key reads on from the same old cursor.
    const other = await gql(t.baseUrl, keyB, EVENTS, { after: cursor('current-1') });
    expect(other.errors).toBeUndefined();
    expect(other.data!.callEvents.edges.map((e: { node: { callId: string } }) => e.node.callId)).toEqual(['other-app']);
    // A key for all apps asking for app B only is not refused either.
    const filtered = await gql(t.baseUrl, keyAll, EVENTS, { after: cursor('current-1'), f: { sdkAppId: B } });
    expect(filtered.errors).toBeUndefined();
    // Without a cursor nothing is refused.
    expect((await gql(t.baseUrl, keyA, EVENTS)).errors).toBeUndefined();
  });

  it('ends a resume from below the floor with CURSOR_EXPIRED, and resumes from at or above it', async () => {
    const stale = subscribe(keyA, { after: cursor('current-1') });
    const fresh = subscribe(keyA, { after: cursor('late-march') });
    const otherApp = subscribe(keyB, { after: cursor('current-1') });
    await fresh.waitFor(1);
    await otherApp.waitFor(1);
    for (let waited = 0; stale.errors.length === 0 && waited < 10_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    expect(stale.items).toEqual([]);
    expect(JSON.stringify(stale.errors)).toContain('"code":"CURSOR_EXPIRED"');
    expect(JSON.stringify(stale.errors)).toContain(`after: expected a cursor at or after position ${positions.get('late-march')}`);
    expect(fresh.items.map((e) => e.callId)).toEqual(['current-2']);
    expect(otherApp.items.map((e) => e.callId)).toEqual(['other-app']);
  });

  it('raises the floor when retention deletes stray rows of the default partition', async () => {
    // January has no partition: its event waits in the default partition, and retention deletes it there.
    await store(A, 'stray-january', at('2031-01-20T00:00:00Z'));
    expect((await gql(t.baseUrl, keyA, EVENTS, { after: cursor('current-2') })).errors).toBeUndefined();
    const report = await retention(at('2031-06-12T00:00:00Z'));
    expect(report.strayDeleted).toBe(1);
    const reply = await gql(t.baseUrl, keyA, EVENTS, { after: cursor('current-2') });
    expect(reply.errors?.[0].extensions?.code).toBe('CURSOR_EXPIRED');
    expect(reply.errors?.[0].message).toContain(`at or after position ${positions.get('stray-january')}`);
    // The floor only rises: the partition drop's floor was lower, this one is kept.
    const floors = await t.db.dataSource.query(`SELECT position::text AS position FROM event_retention_floors WHERE sdk_app_id = $1`, [A]);
    expect(floors).toEqual([{ position: positions.get('stray-january') }]);
  });

  it('refuses a page read while a drop of the rows after its cursor commits: the floor is read after the rows', async () => {
    await retention(at('2031-02-10T00:00:00Z'), null); // February's partition
    await store(A, 'late-february', at('2031-02-15T00:00:00Z'));
    await store(A, 'current-3', at('2031-06-11T00:00:00Z'));
    const events = new CallEventRepository(t.db.dataSource);
    const from = { first: 10, after: cursor('stray-january') };
    expect((await events.list(ALL_APPS, null, from)).nodes.map((e) => e.callId)).toEqual(['late-february', 'current-3']);

    // A drop, as retention runs it, left uncommitted: the page read waits for its lock on call_events.
    const drop = t.db.dataSource.createQueryRunner();
    await drop.startTransaction();
    try {
      await drop.query(`INSERT INTO event_retention_floors (sdk_app_id, position) SELECT sdk_app_id, max(position) FROM call_events_p20310201 GROUP BY 1
        ON CONFLICT (sdk_app_id) DO UPDATE SET position = greatest(event_retention_floors.position, excluded.position)`);
      await drop.query(`DROP TABLE call_events_p20310201`);
      const page = events.list(ALL_APPS, null, from);
      page.catch(() => undefined);
      for (let waited = 0; waited < 10_000; waited += 20) {
        const waiting: unknown[] = await t.db.dataSource.query(`SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%FROM call_events e%'`);
        if (waiting.length > 0) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      await drop.commitTransaction();
      // The page lacks late-february: it is refused, not answered with current-3 alone.
      await expect(page).rejects.toMatchObject({ code: 'CURSOR_EXPIRED', field: 'after' });
    } finally {
      if (drop.isTransactionActive) await drop.rollbackTransaction();
      await drop.release();
    }
  });

  it('ends a resume from a cursor beyond any position this database gave out (a restore or a failover)', async () => {
    const ahead = subscribe(keyAll, { after: eventCursor('1000000000') });
    for (let waited = 0; ahead.errors.length === 0 && waited < 10_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    expect(ahead.items).toEqual([]);
    expect(JSON.stringify(ahead.errors)).toContain('"code":"CURSOR_EXPIRED"');
    expect(JSON.stringify(ahead.errors)).toContain('got position 1000000000: it comes from before a restore or a failover');
  });
});
