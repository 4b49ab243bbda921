import { randomBytes } from 'node:crypto';
import { DataSource, type EntityManager } from 'typeorm';
import { MIGRATIONS } from '../../migrations';
import { EventMaintenance, type MaintenanceReport } from '../../src/calls/event-maintenance';
import { LiveRepository } from '../../src/calls/live.repository';
import { EventPartitionRepository, INGEST_GUARD, PartitionGuard } from '../../src/db/event-partitions.repository';
import { IngestRepository } from '../../src/ingest/ingest.repository';
import { parseV1Callback } from '../../src/ingest/trtc-v1.schema';
import { startTestApp, type TestApp } from '../support/app';
import { commandOf, makeCallback, postCallback, SDKAPPID, type CallbackBody } from '../support/callbacks';
import { openTestDatabase, type TestDatabase } from '../support/database';
import { scrape, scrapeUntil } from '../support/metrics';
import { adminQuery, withDatabase } from '../support/pg-admin';

const at = (iso: string) => Date.parse(iso) / 1000;
const event = (body: CallbackBody) => parseV1Callback(SDKAPPID, { sdkappid: SDKAPPID, command: commandOf(body) }, body);

/** Where each stored event of `callId` lives: partition name per event time. */
async function placement(ds: DataSource, callId: string): Promise<{ partition: string; n: number }[]> {
  return ds.query(`SELECT tableoid::regclass::text AS partition, count(*)::int AS n FROM call_events WHERE call_id = $1 GROUP BY 1 ORDER BY 1`, [callId]);
}

/** A maintenance job over `ds` as of `now`, with no session lock: several of them race like replicas. */
function maintenance(ds: DataSource, now: number, over: Partial<ConstructorParameters<typeof EventMaintenance>[0]> = {}): EventMaintenance {
  return new EventMaintenance({
    partitions: new EventPartitionRepository(ds),
    interval: 'month',
    ahead: 2,
    retentionDays: null,
    callRetentionDays: null,
    intervalMs: 60_000,
    exclusive: async (work) => ({ acquired: true, value: await work() }),
    nowSeconds: () => now,
    ...over,
  });
}

const ok = (r: MaintenanceReport) => {
  if (r.outcome !== 'ok') throw new Error(`maintenance: expected ok, got ${r.outcome}: ${String(r.error)}`);
  return r;
};

describe('partitioned call_events', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await openTestDatabase();
  });
  afterAll(() => db.drop());

  it('creates the partitions ahead once when replicas run at once, and moves rows waiting in the default partition', async () => {
    const repository = new IngestRepository(db.dataSource);
    // Stored before any partition of 2031 exists: they land in the default partition.
    const early = [at('2031-03-31T23:59:59Z'), at('2031-04-01T00:00:00Z'), at('2031-05-15T12:00:00Z')].map((t, i) =>
      event(makeCallback({ CallId: `early-${i}`, EventTime: t })),
    );
    expect(await repository.writeBatch(early)).toEqual(['stored', 'stored', 'stored']);
    expect(await placement(db.dataSource, 'early-0')).toEqual([{ partition: 'call_events_default', n: 1 }]);

    const now = at('2031-04-10T08:00:00Z');
    const reports = (await Promise.all(Array.from({ length: 6 }, () => maintenance(db.dataSource, now).runNow()))).map(ok);
    const created = reports.flatMap((r) => r.created.map((c) => c.name)).sort();
    expect(created).toEqual(['call_events_p20310301', 'call_events_p20310401', 'call_events_p20310501', 'call_events_p20310601']);
    expect(reports.reduce((n, r) => n + r.created.reduce((m, c) => m + c.moved, 0), 0)).toBe(3);

    expect(await placement(db.dataSource, 'early-0')).toEqual([{ partition: 'call_events_p20310301', n: 1 }]);
    expect(await placement(db.dataSource, 'early-1')).toEqual([{ partition: 'call_events_p20310401', n: 1 }]);
    expect(await placement(db.dataSource, 'early-2')).toEqual([{ partition: 'call_events_p20310501', n: 1 }]);
    // Moved rows still tell redeliveries apart.
    expect(await repository.writeBatch(early)).toEqual(['duplicate', 'duplicate', 'duplicate']);
    // A second round finds nothing to do.
    expect(ok(await maintenance(db.dataSource, now).runNow()).created).toEqual([]);
  });

  it('creates a partition while batches keep writing into its range, failing none of them', async () => {
    const repository = new IngestRepository(db.dataSource);
    const month = at('2032-02-01T00:00:00Z');
    let running = true;
    const failures: unknown[] = [];
    let written = 0;
    // Batches routed to the default partition right up to the attach, and into the new partition after it.
    const writers = Array.from({ length: 4 }, async (_, w) => {
      for (let n = 0; running; n++) {
        const batch = Array.from({ length: 20 }, (_, i) => event(makeCallback({ CallId: `race-${w}-${n}-${i}`, EventTime: month + 3600 * (1 + ((n * 20 + i) % 600)) })));
        try {
          await repository.writeBatch(batch);
          written += batch.length;
        } catch (err) {
          failures.push(err);
        }
      }
    });
    await new Promise((r) => setTimeout(r, 300));
    const report = ok(await maintenance(db.dataSource, month + 10 * 86_400, { ahead: 0 }).runNow());
    await new Promise((r) => setTimeout(r, 300));
    running = false;
    await Promise.all(writers);
    expect(failures).toEqual([]);
    expect(report.created.map((c) => c.name)).toEqual(['call_events_p20320201']);
    expect(report.created[0].moved).toBeGreaterThan(0);
    const where: { p: string; n: number }[] = await db.dataSource.query(
      `SELECT tableoid::regclass::text AS p, count(*)::int AS n FROM call_events WHERE call_id LIKE 'race-%' GROUP BY 1`,
    );
    expect(where).toEqual([{ p: 'call_events_p20320201', n: written }]);
  });

  it('stores a redelivery across a partition boundary once: the partition follows the event time, not the arrival', async () => {
    await ok(await maintenance(db.dataSource, at('2031-07-15T00:00:00Z')).runNow());
    const repository = new IngestRepository(db.dataSource);
    const last = event(makeCallback({ CallId: 'boundary', UserId: 'Alice', EventTime: at('2031-07-31T23:59:59Z') }));
    const first = event(makeCallback({ CallId: 'boundary', UserId: 'Bob', Role: 'callee', Event: 'accept_call', EventTime: at('2031-08-01T00:00:00Z') }));
    expect(await repository.writeBatch([last, first])).toEqual(['stored', 'stored']);
    expect(await placement(db.dataSource, 'boundary')).toEqual([
      { partition: 'call_events_p20310701', n: 1 },
      { partition: 'call_events_p20310801', n: 1 },
    ]);
    // Redelivered later (a month on, by a retrying sender or an import): still the same partitions, so still duplicates.
    expect(await repository.writeBatch([first, last, first])).toEqual(['duplicate', 'duplicate', 'duplicate']);
    const calls: { participant_count: number }[] = await db.dataSource.query(`SELECT participant_count FROM calls WHERE call_id = 'boundary'`);
    expect(calls).toEqual([{ participant_count: 2 }]);
    // A new event in August: the refold reads the call within its known span, which still reaches back into July.
    const end = event(makeCallback({ CallId: 'boundary', UserId: 'Bob', Role: 'callee', Event: 'call_end', EventTime: at('2031-08-01T00:10:00Z') }));
    expect(await repository.writeBatch([end])).toEqual(['stored']);
    const folded: { started: string; first: string; last: string; n: number }[] = await db.dataSource.query(
      `SELECT to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS started, to_char(first_event_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS first,
              to_char(last_event_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS last, participant_count AS n FROM calls WHERE call_id = 'boundary'`,
    );
    expect(folded).toEqual([{ started: '2031-07-31 23:59:59', first: '2031-07-31 23:59:59', last: '2031-08-01 00:10:00', n: 2 }]);
  });

  it('makes the partition of a batch for a month that has none before writing it, so nothing waits in the default partition', async () => {
    const guard = new PartitionGuard(new EventPartitionRepository(db.dataSource), 'month');
    const repository = new IngestRepository(db.dataSource, Number.POSITIVE_INFINITY, guard);
    const old = [at('2025-03-03T10:00:00Z'), at('2025-04-30T23:00:00Z')].map((t, i) => event(makeCallback({ CallId: `imported-${i}`, EventTime: t })));
    expect(await repository.writeBatch(old)).toEqual(['stored', 'stored']);
    expect(await placement(db.dataSource, 'imported-0')).toEqual([{ partition: 'call_events_p20250301', n: 1 }]);
    expect(await placement(db.dataSource, 'imported-1')).toEqual([{ partition: 'call_events_p20250401', n: 1 }]);
    // Far ahead (more than a year): no partition is made for it, it waits in the default partition.
    const far = event(makeCallback({ CallId: 'far-ahead', EventTime: Math.floor(Date.now() / 1000) + 400 * 86_400 }));
    expect(await repository.writeBatch([far])).toEqual(['stored']);
    expect(await placement(db.dataSource, 'far-ahead')).toEqual([{ partition: 'call_events_default', n: 1 }]);
  });

  it('reads every moved row while a creation moves them: a read that waited for the move sees them in the new partition', async () => {
    const partitions = new EventPartitionRepository(db.dataSource);
    const live = new LiveRepository(db.dataSource);
    const head = await live.headPosition();
    // Four events wait in the default partition (no partition of 2033 yet); a later one of the same call has a partition.
    await partitions.create({ from: at('2034-01-01T00:00:00Z'), to: at('2034-02-01T00:00:00Z') });
    const waiting = [0, 1, 2, 3].map((i) => event(makeCallback({ CallId: 'moving', UserId: `u${i}`, EventTime: at('2033-05-10T00:00:00Z') + i })));
    await new IngestRepository(db.dataSource).writeBatch([...waiting, event(makeCallback({ CallId: 'moving', Event: 'hangup', EventTime: at('2034-01-02T00:00:00Z') }))]);
    expect(await placement(db.dataSource, 'moving')).toEqual([
      { partition: 'call_events_default', n: 4 },
      { partition: 'call_events_p20340101', n: 1 },
    ]);

    // The creation is held open just after its attach, its rows moved and not yet committed.
    let attached!: () => void;
    const atAttach = new Promise<void>((resolve) => (attached = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const held = {
      transaction: <T>(work: (tx: EntityManager) => Promise<T>) =>
        db.dataSource.transaction((tx) =>
          work(
            new Proxy(tx, {
              get: (target, prop, receiver) =>
                prop !== 'query'
                  ? Reflect.get(target, prop, receiver)
                  : async (sql: string, params?: unknown[]) => {
                      const result = await target.query(sql, params);
                      if (/ATTACH PARTITION/.test(sql)) {
                        attached();
                        await released;
                      }
                      return result;
                    },
            }),
          ),
        ),
    } as unknown as DataSource;
    const creating = new EventPartitionRepository(held).create({ from: at('2033-05-01T00:00:00Z'), to: at('2033-06-01T00:00:00Z') });
    await atAttach;
    // The live hub's read (a console resuming from a cursor reads the same way) starts now and waits for the move.
    const during = live.eventsAfter(head, 100);
    for (let waited = 0; ; waited += 20) {
      const [{ n }] = await db.ingestDataSource.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%e.position > $1::bigint%'`);
      if (n === 1) break;
      if (waited > 5000) throw new Error('expected the read to wait for the move, it did not');
      await new Promise((r) => setTimeout(r, 20));
    }
    release();
    expect(await creating).toEqual({ name: 'call_events_p20330501', moved: 4 });
    const positions = (rows: { position: string }[]) => rows.map((r) => r.position);
    const after = await live.eventsAfter(head, 100);
    expect(after).toHaveLength(5);
    expect(positions(await during)).toEqual(positions(after));
    expect(await placement(db.dataSource, 'moving')).toEqual([
      { partition: 'call_events_p20330501', n: 4 },
      { partition: 'call_events_p20340101', n: 1 },
    ]);
  });

  it("creates a partition while a vacuum or a read holds another partition: only call_events itself is locked, not its partitions", async () => {
    const repository = new EventPartitionRepository(db.dataSource);
    await repository.create({ from: at('2035-01-01T00:00:00Z'), to: at('2035-02-01T00:00:00Z') });
    await new IngestRepository(db.dataSource).writeBatch([event(makeCallback({ CallId: 'beside-a-vacuum', EventTime: at('2035-03-05T00:00:00Z') }))]);
    const holder = await db.ingestDataSource.createQueryRunner();
    try {
      await holder.startTransaction();
      // What autovacuum takes on a partition it works on.
      await holder.query('LOCK TABLE call_events_p20350101 IN SHARE UPDATE EXCLUSIVE MODE');
      // One try of 100 ms: a lock on every partition would have waited for the vacuum and failed.
      expect(await repository.create({ from: at('2035-03-01T00:00:00Z'), to: at('2035-04-01T00:00:00Z') }, 1)).toEqual({ name: 'call_events_p20350301', moved: 1 });
    } finally {
      await holder.rollbackTransaction();
      await holder.release();
    }
  });

  it("gives a creation on ingest's path one try, and rests 10 s after a failed one", async () => {
    const partitions = new EventPartitionRepository(db.dataSource);
    const create = jest.spyOn(partitions, 'create');
    const errors: unknown[] = [];
    let now = at('2036-06-15T00:00:00Z');
    const guard = new PartitionGuard(partitions, 'month', (err) => errors.push(err), () => now, INGEST_GUARD);
    const june = at('2036-06-10T00:00:00Z');
    const holder = await db.ingestDataSource.createQueryRunner();
    try {
      await holder.startTransaction();
      // A long read of the default partition: the creation cannot take its lock.
      await holder.query('LOCK TABLE call_events_default IN ACCESS SHARE MODE');
      await guard.ensure([june]);
      expect(create.mock.calls).toEqual([[{ from: at('2036-06-01T00:00:00Z'), to: at('2036-07-01T00:00:00Z') }, 1]]);
      expect(errors.map((e) => (e as { code?: string }).code)).toEqual(['55P03']);
      // Batches of the next 10 s do not try again: their rows go to the default partition, as they may.
      now += 5;
      await guard.ensure([june]);
      expect(create).toHaveBeenCalledTimes(1);
    } finally {
      await holder.rollbackTransaction();
      await holder.release();
    }
    now += 6;
    await guard.ensure([june]);
    expect(create).toHaveBeenCalledTimes(2);
    expect(errors).toHaveLength(1);
    expect((await partitions.list()).some((p) => p.name === 'call_events_p20360601')).toBe(true);
  });

  it('leaves to an operator an interval whose waiting rows are more than a creation beside ingest moves', async () => {
    const partitions = new EventPartitionRepository(db.dataSource);
    const create = jest.spyOn(partitions, 'create');
    const errors: unknown[] = [];
    const guard = new PartitionGuard(partitions, 'month', (err) => errors.push(err), () => at('2037-03-15T00:00:00Z'), { ...INGEST_GUARD, maxMove: 2 });
    // Three rows of March 2037 wait in the default partition (written without a guard).
    const waiting = [0, 1, 2].map((i) => event(makeCallback({ CallId: `piled-${i}`, EventTime: at('2037-03-02T00:00:00Z') + i })));
    await new IngestRepository(db.dataSource).writeBatch(waiting);
    await guard.ensure([at('2037-03-20T00:00:00Z')]);
    expect(create).not.toHaveBeenCalled();
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toMatch(/partition from 2037-03-01T00:00:00.000Z: the default partition holds over 2 rows for it/);
    expect(await placement(db.dataSource, 'piled-0')).toEqual([{ partition: 'call_events_default', n: 1 }]);
    // Two rows are within the bound: the partition is made and they move.
    await db.dataSource.query(`DELETE FROM call_events WHERE call_id = 'piled-2'`);
    const next = new PartitionGuard(partitions, 'month', (err) => errors.push(err), () => at('2037-03-15T00:00:00Z'), { ...INGEST_GUARD, maxMove: 2 });
    await next.ensure([at('2037-03-20T00:00:00Z')]);
    expect(errors).toHaveLength(1);
    expect(await placement(db.dataSource, 'piled-0')).toEqual([{ partition: 'call_events_p20370301', n: 1 }]);
  });

  it('reads a call, a resume and an event page across partitions in position order', async () => {
    const rows: { position: string; t: string }[] = await db.dataSource.query(
      `SELECT position::text, to_char(event_time AT TIME ZONE 'UTC', 'YYYY-MM') AS t FROM call_events WHERE position > 0 ORDER BY position LIMIT 10`,
    );
    const positions = rows.map((r) => BigInt(r.position));
    expect(positions.length).toBeGreaterThanOrEqual(5);
    expect([...positions].sort((a, b) => (a < b ? -1 : 1))).toEqual(positions);
    expect(new Set(rows.map((r) => r.t)).size).toBeGreaterThan(1);
  });
});

describe('the migration to partitions', () => {
  it('keeps every event, its position and its dedupe, and the sequence goes on', async () => {
    const adminUrl = process.env.CALLTRAIL_TEST_ADMIN_URL as string;
    const name = `calltrail_m_${randomBytes(6).toString('hex')}`;
    await adminQuery(adminUrl, `CREATE DATABASE ${name}`);
    const url = withDatabase(adminUrl, name);
    const before = MIGRATIONS.slice(0, MIGRATIONS.findIndex((m) => m.name === 'PartitionCallEvents1795800000000'));
    const old = new DataSource({ type: 'postgres', url, migrations: before, migrationsTableName: 'migrations', synchronize: false });
    await old.initialize();
    try {
      await old.runMigrations({ transaction: 'each' });
      // Far past and far future times too: they have no month of their own and go to the default partition.
      const times = ['2001-01-02T00:00:00Z', '2024-01-08T06:32:46Z', '2024-01-31T23:59:59Z', '2024-02-01T00:00:00Z', '2059-01-01T00:00:00Z'].map(at);
      const events = times.flatMap((t, i) => [
        event(makeCallback({ CallId: `m-${i}`, EventTime: t })),
        event(makeCallback({ CallId: `m-${i}`, UserId: 'Bob', Role: 'callee', Event: 'accept_call', EventTime: t + 1 })),
      ]);
      // Stored as the calltrail of that schema stored them (today's repository writes columns added since).
      await old.query(
        `INSERT INTO call_events (sdk_app_id, call_id, user_id, role, raw_event, event_type, event_time, body, dedupe_key)
         SELECT x.a, x.c, x.u, x.r, x.raw, x.t, to_timestamp(x.at), x.body, x.k
         FROM jsonb_to_recordset($1::jsonb) AS x(a text, c text, u text, r text, raw text, t text, at float8, body jsonb, k text)`,
        [JSON.stringify(events.map((e) => ({ a: e.sdkAppId, c: e.callId, u: e.userId, r: e.role, raw: e.rawEvent, t: e.type, at: e.eventTime, body: e.body, k: e.dedupeKey })))],
      );
      await old.query(`GRANT SELECT ON call_events TO PUBLIC`);
      const snapshot = `SELECT position::text, sdk_app_id, call_id, user_id, event_time, dedupe_key, body FROM call_events ORDER BY position`;
      const rowsBefore = await old.query(snapshot);
      expect(rowsBefore).toHaveLength(10);
      await old.destroy();

      const current = new DataSource({ type: 'postgres', url, migrations: MIGRATIONS, migrationsTableName: 'migrations', synchronize: false });
      await current.initialize();
      try {
        await current.runMigrations({ transaction: 'each' });
        expect(await current.query(snapshot)).toEqual(rowsBefore);
        const parts: { p: string; n: number }[] = await current.query(`SELECT tableoid::regclass::text AS p, count(*)::int AS n FROM call_events GROUP BY 1 ORDER BY 1`);
        expect(parts).toEqual([
          { p: 'call_events_default', n: 4 },
          // The accept of the call at 2024-01-31T23:59:59 comes a second later, in February.
          { p: 'call_events_p20240101', n: 3 },
          { p: 'call_events_p20240201', n: 3 },
        ]);
        const again = new IngestRepository(current);
        expect(new Set(await again.writeBatch(events))).toEqual(new Set(['duplicate']));
        const next = event(makeCallback({ CallId: 'after-migration', EventTime: at('2024-02-02T00:00:00Z') }));
        await again.writeBatch([next]);
        const [{ p }]: { p: string }[] = await current.query(`SELECT position::text AS p FROM call_events WHERE call_id = 'after-migration'`);
        expect(BigInt(p)).toBeGreaterThan(BigInt(rowsBefore.at(-1).position));
        // Privileges others held on the table are held on the new one.
        expect(await current.query(`SELECT grantee FROM information_schema.role_table_grants WHERE table_name = 'call_events' AND grantee = 'PUBLIC'`)).toEqual([{ grantee: 'PUBLIC' }]);
        // The BI view was recreated on the new table.
        expect(await current.query(`SELECT count(*)::int AS n FROM bi.events`)).toEqual([{ n: 11 }]);
        // Reverted (the migrations after this one, then this one) and applied again: the same rows, grants and view each way.
        const kind = async () => (await current.query(`SELECT relkind::text AS k FROM pg_class WHERE oid = 'call_events'::regclass`))[0].k;
        const everything = await current.query(snapshot);
        for (let n = MIGRATIONS.length - before.length; n > 0; n--) await current.undoLastMigration({ transaction: 'each' });
        expect(await kind()).toBe('r');
        expect(await current.query(snapshot)).toEqual(everything);
        expect(await current.query(`SELECT grantee FROM information_schema.role_table_grants WHERE table_name = 'call_events' AND grantee = 'PUBLIC'`)).toEqual([{ grantee: 'PUBLIC' }]);
        expect(await current.query(`SELECT count(*)::int AS n FROM bi.events`)).toEqual([{ n: 11 }]);
        await current.runMigrations({ transaction: 'each' });
        expect(await kind()).toBe('p');
        expect(await current.query(snapshot)).toEqual(everything);
      } finally {
        await current.destroy();
      }
    } finally {
      if (old.isInitialized) await old.destroy();
      await adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    }
  });
});

describe('retention', () => {
  let t: TestApp;
  const DAY = 86_400;
  const now = Date.now() / 1000;

  beforeAll(async () => {
    t = await startTestApp({ RETENTION_DAYS: '60', CALL_RETENTION_DAYS: '90', LIVE_POLL_MS: '60000' });
    // The app's own start-up run (a timer) must be over before the tests add old partitions, or it could drop them under their feet.
    await scrapeUntil(t.baseUrl, (s) => s.value('calltrail_maintenance_runs_total', { outcome: 'ok' }) >= 1, 20_000);
    await t.app.maintenance.runNow();
  });
  afterAll(() => t.stop());

  it('refuses a callback older than RETENTION_DAYS with 422 and keeps it in quarantine', async () => {
    const res = await postCallback(t.baseUrl, makeCallback({ CallId: 'too-old', EventTime: Math.floor(now - 61 * DAY) }));
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ ErrorCode: 4221 });
    const kept: { reason: string }[] = await t.db.dataSource.query(`SELECT reason FROM rejected_callbacks WHERE error_code = 'EVENT_EXPIRED'`);
    expect(kept).toHaveLength(1);
    expect(kept[0].reason).toMatch(/^EventTime: expected a time within RETENTION_DAYS \(at or after \d{4}-\d\d-\d\dT.*\), got \d{4}-/);
    expect(await placement(t.db.dataSource, 'too-old')).toEqual([]);
  });

  it('drops whole partitions past RETENTION_DAYS while callbacks keep being acknowledged, and deletes calls past CALL_RETENTION_DAYS', async () => {
    const repo = new EventPartitionRepository(t.db.dataSource);
    const ingest = new IngestRepository(t.db.dataSource);
    // Old months, stored as if retention had been off until now: 200 days ago and 100 days ago.
    const oldTimes = [now - 200 * DAY, now - 100 * DAY];
    for (const [i, time] of oldTimes.entries()) {
      await ok(await maintenance(t.db.dataSource, time, { ahead: 0 }).runNow());
      await ingest.writeBatch(Array.from({ length: 50 }, (_, n) => event(makeCallback({ CallId: `old-${i}-${n}`, EventTime: Math.floor(time) }))));
    }
    const partitionsBefore = (await repo.list()).map((p) => p.name);
    const oldPartitions = partitionsBefore.filter((name) => (name.startsWith('call_events_p') ? at(`${name.slice(13, 17)}-${name.slice(17, 19)}-01T00:00:00Z`) < now - 92 * DAY : false));
    expect(oldPartitions.length).toBeGreaterThanOrEqual(2);

    // Callbacks keep arriving while the retention run drops partitions.
    const latencies: number[] = [];
    let sending = true;
    const sender = (async () => {
      let n = 0;
      const replies: number[] = [];
      while (sending || n < 100) {
        const started = performance.now();
        const res = await postCallback(t.baseUrl, makeCallback({ CallId: `live-${n++}`, EventTime: Math.floor(Date.now() / 1000) }));
        latencies.push(performance.now() - started);
        replies.push(res.status);
      }
      return replies;
    })();
    // The run starts once callbacks are being answered, so some of them are stored before it reads the oldest event.
    for (let waited = 0; latencies.length < 5 && waited < 10_000; waited += 20) await new Promise((r) => setTimeout(r, 20));
    const report = await t.app.maintenance.runNow();
    sending = false;
    const replies = await sender;
    expect(report.outcome).toBe('ok');
    expect(replies.every((s) => s === 200)).toBe(true);
    expect(report.dropped).toEqual(expect.arrayContaining(oldPartitions));
    const left = (await repo.list()).map((p) => p.name);
    for (const name of oldPartitions) expect(left).not.toContain(name);
    expect(await t.db.dataSource.query(`SELECT count(*)::int AS n FROM call_events WHERE call_id LIKE 'old-%'`)).toEqual([{ n: 0 }]);
    // Calls of 200 days ago are past CALL_RETENTION_DAYS (90); those of 100 days ago too. Their participants go with them.
    expect(report.callsDeleted).toBe(100);
    expect(await t.db.dataSource.query(`SELECT count(*)::int AS n FROM calls WHERE call_id LIKE 'old-%'`)).toEqual([{ n: 0 }]);
    expect(await t.db.dataSource.query(`SELECT count(*)::int AS n FROM call_participants WHERE call_id LIKE 'old-%'`)).toEqual([{ n: 0 }]);
    const stored: { n: number }[] = await t.db.dataSource.query(`SELECT count(DISTINCT call_id)::int AS n FROM call_events WHERE call_id LIKE 'live-%'`);
    expect(stored[0].n).toBe(replies.length);
    latencies.sort((a, b) => a - b);
    const p99 = latencies[Math.floor(latencies.length * 0.99)];
    process.stderr.write(`retention: ${replies.length} callbacks during the run, p99 ${p99.toFixed(1)} ms, max ${latencies.at(-1)?.toFixed(1)} ms, dropped ${report.dropped.join(', ')}\n`);
    expect(report.oldestEventAt).toBeGreaterThanOrEqual(now - 61 * DAY);
  });

  it('exports the partitions, the drops and the oldest event kept', async () => {
    const s = await scrape(t.baseUrl);
    expect(s.value('calltrail_event_partitions_dropped_total')).toBeGreaterThanOrEqual(2);
    expect(s.value('calltrail_calls_deleted_total')).toBe(100);
    expect(s.value('calltrail_event_partitions')).toBeGreaterThanOrEqual(4);
    // Every old event was stored before the callbacks of the test: none is kept late, no drop waits.
    expect(s.value('calltrail_event_partitions_postponed')).toBe(0);
    expect(s.value('calltrail_events_kept_late_total')).toBe(0);
    expect(s.value('calltrail_events_oldest_timestamp_seconds')).toBeGreaterThan(now - 61 * DAY);
    expect(s.value('calltrail_maintenance_runs_total', { outcome: 'ok' })).toBeGreaterThanOrEqual(2);
  });

  it('refuses a callback dated more than a day ahead with 422 and keeps it in quarantine, and stores one an hour ahead', async () => {
    const res = await postCallback(t.baseUrl, makeCallback({ CallId: 'too-far-ahead', EventTime: Math.floor(Date.now() / 1000 + 2 * DAY) }));
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ ErrorCode: 4222, code: 'EVENT_AHEAD', field: 'EventTime' });
    const kept: { reason: string }[] = await t.db.dataSource.query(`SELECT reason FROM rejected_callbacks WHERE error_code = 'EVENT_AHEAD'`);
    expect(kept).toHaveLength(1);
    expect(kept[0].reason).toMatch(/^EventTime: expected a time at most a day after the server's clock while RETENTION_DAYS is set \(at or before \d{4}-\d\d-\d\dT.*\), got \d{4}-/);
    expect(await placement(t.db.dataSource, 'too-far-ahead')).toEqual([]);

    const soon = await postCallback(t.baseUrl, makeCallback({ CallId: 'an-hour-ahead', EventTime: Math.floor(Date.now() / 1000 + 3_600) }));
    expect(soon.status).toBe(200);
    expect((await placement(t.db.dataSource, 'an-hour-ahead')).map((p) => p.n)).toEqual([1]);
  });
});
