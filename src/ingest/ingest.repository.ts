import type { PoolClient } from 'pg';
import type { DataSource, EntityManager } from 'typeorm';
import { POSITION_LOCK } from '../db/advisory-lock';
import { EventPartitionRepository, PartitionGuard } from '../db/event-partitions.repository';
import { pgPool } from '../db/pool-stats';
import { callKeyText, groupByCall, type CallKey } from '../domain/call-key';
import { foldCall, type FoldEvent, type FoldedCall } from '../domain/fold-call';
import type { PartitionInterval } from '../domain/partition-ranges';
import type { CallbackEvent } from './trtc-v1.schema';

/** Channel of the post-commit wake-up; the payload is the batch's highest position. */
export const EVENTS_CHANNEL = 'calltrail_events';


/**
 * A batch would give these calls more than `max` stored events. Every batch refolds each call it
 * touches from all its events, so an unbounded call would slow every batch and, past a point, fail
 * them: its new events are refused instead (docs/reliability.md, "Call size").
 */
export class CallTooLargeError extends Error {
  constructor(
    readonly calls: readonly CallKey[],
    readonly max: number,
  ) {
    super(`calls over ${max} events: ${calls.map((c) => c.callId).join(', ')}`);
    this.name = 'CallTooLargeError';
  }
}

/** What a submitted callback became once its transaction committed. */
export type WriteResult = 'stored' | 'duplicate';

/** Identity of a stored body: the dedupe constraint is (app, dedupe key). */
const dedupeText = (e: { sdkAppId: string; dedupeKey: string }): string => `${e.sdkAppId}\n${e.dedupeKey}`;

/** What the fold reads of an event (`e` is the row's alias). */
const eventFields = (e: string) => `${e}.sdk_app_id AS "sdkAppId", ${e}.call_id AS "callId", ${e}.user_id AS "userId", ${e}.role, ${e}.event_type AS type, ${e}.raw_event AS "rawEvent",
    ${e}.call_type AS "callType", ${e}.media_type AS "mediaType", ${e}.room_id AS "roomId", ${e}.call_result AS "callResult",
    extract(epoch FROM ${e}.event_time)::float8 AS "eventTime", extract(epoch FROM ${e}.start_call_at)::float8 AS "startCallTs",
    extract(epoch FROM ${e}.accept_at)::float8 AS "acceptTs", extract(epoch FROM ${e}.end_at)::float8 AS "endTs",
    ${e}.platform, ${e}.dedupe_key AS "dedupeKey", ${e}.position::text AS position`;
const EVENT_FIELDS = eventFields('e');

/**
 * Inserts a batch's events (duplicates skipped) and reads, in the same statement, everything the fold
 * needs of each call that got a new event: the new rows (`new` true) and the call's events stored before
 * (`new` false). The second part cannot see the rows the first inserts (one snapshot for the whole
 * statement), so each event comes once. A call already in `calls` has its other events between its
 * `first_event_at` and `last_event_at` (the fold's earliest and latest event time, written under the same
 * lock), so only the partitions of that span are read (run-time pruning; MATERIALIZED makes the bounds
 * values of the outer side); a call not in `calls` yet, or stored before `first_event_at` existed, is read
 * without that bound.
 */
export const INSERT_AND_READ = `
  WITH ins AS (
    INSERT INTO call_events (sdk_app_id, call_id, room_id, user_id, role, raw_event, event_type, call_type,
      media_type, total_num, call_result, raw_call_result, event_time, start_call_at, accept_at, end_at,
      command, client_ip, platform, body, dedupe_key)
    SELECT x."sdkAppId", x."callId", x."roomId", x."userId", x.role, x."rawEvent", x.type, x."callType",
      x."mediaType", x."totalNum", x."callResult", x."rawCallResult", to_timestamp(x."eventTime"),
      to_timestamp(x."startCallTs"), to_timestamp(x."acceptTs"), to_timestamp(x."endTs"),
      x.command, x."clientIp", x.platform, x.body, x."dedupeKey"
    FROM jsonb_to_recordset($1::jsonb) AS x("sdkAppId" text, "callId" text, "roomId" text,
      "userId" text, role text, "rawEvent" text, type text, "callType" text, "mediaType" text, "totalNum" int,
      "callResult" text, "rawCallResult" text, "eventTime" float8, "startCallTs" float8, "acceptTs" float8,
      "endTs" float8, command text, "clientIp" text, platform text, body jsonb, "dedupeKey" text)
    ON CONFLICT ON CONSTRAINT uq_call_events_dedupe DO NOTHING
    RETURNING *
  ),
  k AS MATERIALIZED (
    SELECT i.sdk_app_id, i.call_id,
      CASE WHEN c.first_event_at IS NULL THEN '-infinity'::timestamptz
        ELSE least(c.first_event_at, min(i.event_time)) - interval '1 second' END AS lo,
      CASE WHEN c.id IS NULL THEN 'infinity'::timestamptz
        ELSE greatest(c.last_event_at, max(i.event_time)) + interval '1 second' END AS hi
    FROM ins i
    -- One index lookup per call (LIMIT keeps it a nested loop: a hash join would scan every call).
    LEFT JOIN LATERAL (
      SELECT id, first_event_at, last_event_at FROM calls WHERE sdk_app_id = i.sdk_app_id AND call_id = i.call_id LIMIT 1
    ) c ON true
    GROUP BY i.sdk_app_id, i.call_id, c.id, c.first_event_at, c.last_event_at
  )
  SELECT true AS new, ${eventFields('i')} FROM ins i
  UNION ALL
  SELECT false AS new, ${EVENT_FIELDS}
  FROM k
  CROSS JOIN LATERAL (
    SELECT * FROM call_events
    WHERE sdk_app_id = k.sdk_app_id AND call_id = k.call_id AND event_time >= k.lo AND event_time <= k.hi
  ) e`;

/** Every stored event of each call: one index lookup per call and partition (ix_call_events_call), whatever the table's size. */
const SELECT_CALL_EVENTS = `
  SELECT ${EVENT_FIELDS}
  FROM jsonb_to_recordset($1::jsonb) AS k("sdkAppId" text, "callId" text)
  CROSS JOIN LATERAL (SELECT * FROM call_events WHERE sdk_app_id = k."sdkAppId" AND call_id = k."callId") e`;

/**
 * Upserts folded calls ($1) and their participants ($2), and queues the post-commit wake-up when $3 (the
 * batch's highest position) is given.
 */
const UPSERT_PROJECTION = `
  WITH c AS (
    INSERT INTO calls (sdk_app_id, call_id, room_id, call_type, media_type, status, result, caller_id,
      started_at, accepted_at, ended_at, ring_seconds, talk_seconds, participant_count, first_event_at, last_event_at,
      last_position, updated_at)
    SELECT x.a, x.c, x."roomId", x."callType", x."mediaType", x.status, x.result, x."callerId",
      to_timestamp(x."startedAt"), to_timestamp(x."acceptedAt"), to_timestamp(x."endedAt"), x."ringSeconds",
      x."talkSeconds", x."participantCount", to_timestamp(x."firstEventAt"), to_timestamp(x."lastEventAt"), x."lastPosition", now()
    FROM jsonb_to_recordset($1::jsonb) AS x(a text, c text, "roomId" text, "callType" text, "mediaType" text,
      status text, result text, "callerId" text, "startedAt" float8, "acceptedAt" float8, "endedAt" float8,
      "ringSeconds" int, "talkSeconds" int, "participantCount" int, "firstEventAt" float8, "lastEventAt" float8, "lastPosition" bigint)
    ON CONFLICT ON CONSTRAINT uq_calls_app_call DO UPDATE SET
      room_id = EXCLUDED.room_id, call_type = EXCLUDED.call_type, media_type = EXCLUDED.media_type,
      status = EXCLUDED.status, result = EXCLUDED.result, caller_id = EXCLUDED.caller_id,
      started_at = EXCLUDED.started_at, accepted_at = EXCLUDED.accepted_at, ended_at = EXCLUDED.ended_at,
      ring_seconds = EXCLUDED.ring_seconds, talk_seconds = EXCLUDED.talk_seconds,
      participant_count = EXCLUDED.participant_count, first_event_at = EXCLUDED.first_event_at, last_event_at = EXCLUDED.last_event_at,
      last_position = EXCLUDED.last_position, updated_at = now()
    RETURNING id, sdk_app_id, call_id, call_type, media_type, started_at
  ), parts AS (
    INSERT INTO call_participants (call_ref, sdk_app_id, call_id, user_id, role, outcome, platform, invited_at,
      answered_at, left_at, call_type, media_type, started_at)
    SELECT c.id, c.sdk_app_id, c.call_id, p."userId", p.role, p.outcome, p.platform, to_timestamp(p."invitedAt"),
      to_timestamp(p."answeredAt"), to_timestamp(p."leftAt"), c.call_type, c.media_type, c.started_at
    FROM jsonb_to_recordset($2::jsonb) AS p(a text, c text, "userId" text, role text, outcome text, platform text,
      "invitedAt" float8, "answeredAt" float8, "leftAt" float8)
    JOIN c ON c.sdk_app_id = p.a AND c.call_id = p.c
    ON CONFLICT ON CONSTRAINT pk_call_participants DO UPDATE SET
      role = EXCLUDED.role, outcome = EXCLUDED.outcome, platform = EXCLUDED.platform,
      invited_at = EXCLUDED.invited_at, answered_at = EXCLUDED.answered_at, left_at = EXCLUDED.left_at,
      call_type = EXCLUDED.call_type, media_type = EXCLUDED.media_type, started_at = EXCLUDED.started_at
    -- A participant the batch did not change is not written again: a group call's batch changes a few of its
    -- members, and rewriting all of them (a new row version, index entries and WAL each) made a call cost the
    -- square of its size.
    WHERE (call_participants.role, call_participants.outcome, call_participants.platform, call_participants.invited_at,
        call_participants.answered_at, call_participants.left_at, call_participants.call_type, call_participants.media_type,
        call_participants.started_at)
      IS DISTINCT FROM (EXCLUDED.role, EXCLUDED.outcome, EXCLUDED.platform, EXCLUDED.invited_at, EXCLUDED.answered_at,
        EXCLUDED.left_at, EXCLUDED.call_type, EXCLUDED.media_type, EXCLUDED.started_at)
  )
  SELECT pg_notify('${EVENTS_CHANNEL}', $3::text) FROM (SELECT 1) one WHERE $3::text IS NOT NULL`;

interface StoredFoldEvent extends FoldEvent, CallKey {
  readonly position: string;
}

/** A row of INSERT_AND_READ: an event the fold reads, and whether this statement inserted it. */
interface BatchRow extends StoredFoldEvent {
  readonly new: boolean;
}

/** The write side: the one door through which ingest touches SQL. */
export class IngestRepository {
  /** `maxEventsPerCall`: past it, `writeBatch` throws {@link CallTooLargeError} and stores nothing. */
  /** `guard`: makes the partitions of a batch's event times before it is written (docs/architecture.md, Event partitions). */
  constructor(
    private readonly dataSource: DataSource,
    private readonly maxEventsPerCall = Number.POSITIVE_INFINITY,
    private readonly guard: Pick<PartitionGuard, 'ensure'> | null = null,
  ) {}

  /**
   * Stores a batch in one transaction: inserts new events (duplicates skipped), refolds every
   * call that got a new event from all its stored events, upserts the projection, and queues a
   * NOTIFY that PostgreSQL delivers on commit. Returns what each event became, in input order;
   * of two equal events in one batch, the first is `stored` and the second a `duplicate`.
   *
   * Four round trips on a connection of the ingest pool: BEGIN with the position lock; the insert with
   * the read of what the fold needs; the upsert of the projection with the NOTIFY (prepared once per
   * connection: it reads no table, so its plan does not depend on their size); COMMIT. Every round trip waits for the event loop it shares with HTTP
   * and the live fan-out, so their number sets how long the lock is held under load (docs/architecture.md,
   * Ingest).
   */
  async writeBatch(events: readonly CallbackEvent[]): Promise<WriteResult[]> {
    await this.guard?.ensure(events.map((e) => e.eventTime));
    const inserted = await this.lockedTransaction(async (client) => {
      // Planned at each run (not prepared): the best way to each call's events depends on the partitions'
      // current statistics, and a plan kept from when they were empty would scan whole partitions later.
      const { rows } = await client.query<BatchRow>(INSERT_AND_READ, [JSON.stringify(events)]);
      const fresh = rows.filter((r) => r.new);
      if (fresh.length === 0) return fresh;
      const calls = new Map<string, CallKey>();
      for (const r of fresh) if (!calls.has(callKeyText(r))) calls.set(callKeyText(r), { sdkAppId: r.sdkAppId, callId: r.callId });
      const { callRows, participantRows } = fold([...calls.values()], rows, this.maxEventsPerCall);
      await client.query({
        name: 'calltrail_upsert_projection',
        text: UPSERT_PROJECTION,
        values: [JSON.stringify(callRows), JSON.stringify(participantRows), maxOf(fresh.map((r) => r.position))],
      });
      return fresh;
    });
    const unclaimed = new Set(inserted.map(dedupeText));
    return events.map((e) => (unclaimed.delete(dedupeText(e)) ? 'stored' : 'duplicate'));
  }

  /**
   * Runs `work` in a transaction holding the position lock, on a connection of this DataSource's pool.
   * A connection whose ROLLBACK fails (it was lost) is discarded, not returned to the pool.
   */
  private async lockedTransaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const pool = this.dataSource.isInitialized ? pgPool(this.dataSource) : undefined;
    if (!pool) throw new Error('database: expected an open ingest pool, got none (not open yet, or closed)');
    const client = await pool.connect();
    let broken: Error | undefined;
    try {
      // One simple-protocol round trip for both statements; the lock id is a constant of ours.
      await client.query(`BEGIN; SELECT pg_advisory_xact_lock(${POSITION_LOCK})`);
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch((e: Error) => (broken = e));
      throw err;
    } finally {
      client.release(broken);
    }
  }

  /**
   * Recomputes the projection of every call from its stored events (docs/design.md, principle 2),
   * a page of calls per transaction, under the same lock as writers. Participants no longer derived
   * are removed. Returns the number of calls refolded.
   */
  async rebuildProjection(pageSize = 500, onPage?: (done: number) => void): Promise<number> {
    let after: CallKey = { sdkAppId: '', callId: '' };
    let done = 0;
    for (;;) {
      const page: CallKey[] = await this.dataSource.query(
        `SELECT DISTINCT sdk_app_id AS "sdkAppId", call_id AS "callId" FROM call_events
         WHERE (sdk_app_id, call_id) > ($1, $2) ORDER BY 1, 2 LIMIT $3`,
        [after.sdkAppId, after.callId, pageSize],
      );
      if (page.length === 0) return done;
      await this.dataSource.transaction(async (tx) => {
        await tx.query('SELECT pg_advisory_xact_lock($1)', [POSITION_LOCK]);
        await tx.query(
          `DELETE FROM call_participants p USING jsonb_to_recordset($1::jsonb) AS k("sdkAppId" text, "callId" text)
           WHERE p.sdk_app_id = k."sdkAppId" AND p.call_id = k."callId"`,
          [JSON.stringify(page)],
        );
        await this.refold(tx, page);
      });
      done += page.length;
      onPage?.(done);
      after = page[page.length - 1];
    }
  }

  /** Folds each call from all its stored events (read whole: a rebuild must not trust `calls`) and upserts calls and participants. */
  private async refold(tx: EntityManager, calls: readonly CallKey[]): Promise<void> {
    const rows: StoredFoldEvent[] = await tx.query(SELECT_CALL_EVENTS, [JSON.stringify(calls)]);
    const { callRows, participantRows } = fold(calls, rows);
    await tx.query(UPSERT_PROJECTION, [JSON.stringify(callRows), JSON.stringify(participantRows), null]);
  }
}

/**
 * The projection rows of each call folded from its events (`rows`, any order, of these calls and maybe
 * others). Throws {@link CallTooLargeError} when a call has more than `maxEvents`.
 */
function fold(calls: readonly CallKey[], rows: readonly StoredFoldEvent[], maxEvents = Number.POSITIVE_INFINITY): { callRows: object[]; participantRows: object[] } {
  const grouped = groupByCall(calls, rows);
  const tooLarge = calls.filter((_, i) => grouped[i].length > maxEvents);
  if (tooLarge.length > 0) throw new CallTooLargeError(tooLarge, maxEvents);
  const callRows: object[] = [];
  const participantRows: object[] = [];
  for (const callEvents of grouped) {
    if (callEvents.length === 0) continue;
    const { sdkAppId: a, callId: c } = callEvents[0];
    const { participants, ...call }: FoldedCall = foldCall(callEvents);
    const firstEventAt = callEvents.reduce((min, e) => Math.min(min, e.eventTime), Number.POSITIVE_INFINITY);
    callRows.push({ a, c, ...call, participantCount: participants.length, firstEventAt, lastPosition: maxOf(callEvents.map((e) => e.position)) });
    for (const p of participants) participantRows.push({ a, c, ...p });
  }
  return { callRows, participantRows };
}

const maxOf = (positions: readonly string[]): string => positions.reduce((max, p) => (BigInt(p) > BigInt(max) ? p : max), '0');

/** What is logged when a batch's partition could not be made before the batch was written. */
export const GUARD_FAILED = 'could not make the partition of a batch beforehand; its rows go to the default partition until the maintenance run moves them';

/**
 * The repository ingest writes through on `dataSource` (the main thread's ingest pool, the ingest
 * thread's, or a CLI's), with the partition guard of its batches; `onGuardError` hears a partition
 * that could not be made beforehand ({@link GUARD_FAILED}).
 */
export function ingestRepositoryOn(dataSource: DataSource, callMaxEvents: number, interval: PartitionInterval, onGuardError?: (err: unknown) => void): IngestRepository {
  return new IngestRepository(dataSource, callMaxEvents, new PartitionGuard(new EventPartitionRepository(dataSource), interval, onGuardError));
}
