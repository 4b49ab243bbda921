import type { QueryConfig, QueryResult, QueryResultRow } from 'pg';
import type { DataSource, EntityManager } from 'typeorm';
import { POSITION_LOCK } from '../db/advisory-lock';
import { EventPartitionRepository, INGEST_GUARD, PartitionGuard, type GuardOptions } from '../db/event-partitions.repository';
import { pgPool } from '../db/pool-stats';
import { callKeyText, groupByCall, type CallKey } from '../domain/call-key';
import { foldCall, type FoldedCall, type FoldedParticipant } from '../domain/fold-call';
import type { PartitionInterval } from '../domain/partition-ranges';
import { FoldCache, positionAbove, type CachedCall, type FoldCacheSize, type StoredFoldEvent } from './fold-cache';
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
 * without that bound. $2 lists the calls whose events up to a position the caller already holds
 * ({@link FoldCache}: `[{ a, c, p }]`): only their events after that position are read.
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
  known AS MATERIALIZED (
    SELECT * FROM jsonb_to_recordset($2::jsonb) AS s(a text, c text, p bigint)
  ),
  k AS MATERIALIZED (
    SELECT i.sdk_app_id, i.call_id,
      -- A call whose row is gone (call retention deleted it) is read whole: the writer then drops what it holds.
      CASE WHEN c.id IS NOT NULL THEN (SELECT max(s.p) FROM known s WHERE s.a = i.sdk_app_id AND s.c = i.call_id) END AS after,
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
      AND (k.after IS NULL OR position > k.after)
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

/** A row of INSERT_AND_READ: an event the fold reads, and whether this statement inserted it. */
interface BatchRow extends StoredFoldEvent {
  readonly new: boolean;
}

/** The write side: the one door through which ingest touches SQL. */
export class IngestRepository {
  /** `maxEventsPerCall`: past it, `writeBatch` throws {@link CallTooLargeError} and stores nothing. */
  /** `guard`: makes the partitions of a batch's event times before it is written (docs/architecture.md, Event partitions). */
  /** `cache`: the events of large calls folded last, so a batch reads back only what it lacks ({@link FoldCache}). */
  constructor(
    private readonly dataSource: DataSource,
    private readonly maxEventsPerCall = Number.POSITIVE_INFINITY,
    private readonly guard: Pick<PartitionGuard, 'ensure'> | null = null,
    private readonly cache: FoldCache | null = null,
  ) {}

  /**
   * Stores a batch in one transaction: inserts new events (duplicates skipped), refolds every
   * call that got a new event from all its stored events, upserts the projection, and queues a
   * NOTIFY that PostgreSQL delivers on commit. Returns what each event became, in input order;
   * of two equal events in one batch, the first is `stored` and the second a `duplicate`.
   *
   * Two round trips on a connection of the ingest pool, each of two pipelined statements: BEGIN with the
   * position lock, and the insert with the read of what the fold needs; then the upsert of the projection
   * with the NOTIFY (prepared once per connection: it reads no table, so its plan does not depend on their
   * size), and COMMIT. The lock is held from the first to the last, so their number sets how long it is
   * held under load (docs/architecture.md, "Two round trips").
   *
   * A large call the cache holds is read back only above the cache's position, and only its participants
   * whose row changed are sent, so a batch costs about the same in a 1,000-participant call as in a small one.
   */
  async writeBatch(events: readonly CallbackEvent[]): Promise<WriteResult[]> {
    await this.guard?.ensure(events.map((e) => e.eventTime));
    const cached = new Map<string, CachedCall>();
    const known: { a: string; c: string; p: string }[] = [];
    for (const e of events) {
      const hit = cached.has(callKeyText(e)) ? undefined : this.cache?.get(e);
      if (hit === undefined) continue;
      cached.set(callKeyText(e), hit);
      known.push({ a: e.sdkAppId, c: e.callId, p: hit.upTo });
    }
    // Planned at each run (not prepared): the best way to each call's events depends on the partitions'
    // current statistics, and a plan kept from when they were empty would scan whole partitions later.
    // Measured: prepared, it saved about 1 ms per batch at first, then on a fresh database closed-loop
    // ingest of new calls fell from about 2,300 to 415 callbacks/s as the tables grew (docs/benchmarks.md).
    const read = { text: INSERT_AND_READ, values: [JSON.stringify(events), JSON.stringify(known)] };
    const { fresh, folded } = await this.lockedTransaction(read, (rows: BatchRow[]) => {
      const fresh = rows.filter((r) => r.new);
      if (fresh.length === 0) return { last: null, result: { fresh, folded: [] } };
      const byCall = new Map<string, { key: CallKey; read: StoredFoldEvent[]; foreign: boolean }>();
      for (const r of fresh) {
        const text = callKeyText(r);
        if (!byCall.has(text)) byCall.set(text, { key: { sdkAppId: r.sdkAppId, callId: r.callId }, read: [], foreign: false });
      }
      for (const r of rows) {
        const call = byCall.get(callKeyText(r));
        if (call === undefined) continue;
        call.read.push(r);
        if (!r.new) call.foreign = true; // stored before: by an earlier batch we do not hold, or by another process
      }
      const calls = [...byCall.values()].map(({ key, read, foreign }) => {
        let hit = cached.get(callKeyText(key));
        // Read at or below its position: the statement did not trust it (the call's row was gone), nor do we.
        if (hit && read.some((r) => !positionAbove(r.position, hit!.upTo))) hit = undefined;
        return { key, events: hit ? [...hit.events, ...read] : read, previous: hit && !foreign ? hit.participants : null };
      });
      const tooLarge = calls.filter((c) => c.events.length > this.maxEventsPerCall);
      if (tooLarge.length > 0) throw new CallTooLargeError(tooLarge.map((c) => c.key), this.maxEventsPerCall);
      const folded = calls.map((c) => ({ ...c, ...foldRows(c.events) }));
      const participantRows: object[] = [];
      for (const f of folded) {
        for (const [userId, p] of f.participants) if (f.previous?.get(userId) !== p.written) participantRows.push({ a: f.key.sdkAppId, c: f.key.callId, ...p.row });
      }
      const upsert = {
        name: 'calltrail_upsert_projection',
        text: UPSERT_PROJECTION,
        values: [JSON.stringify(folded.map((f) => f.callRow)), JSON.stringify(participantRows), maxOf(fresh.map((r) => r.position))],
      };
      return { last: upsert, result: { fresh, folded } };
    });
    // Committed: every event of these calls up to the batch's highest position is now known here.
    const upTo = maxOf(fresh.map((r) => r.position));
    for (const f of folded) this.cache?.set(f.key, { events: f.events, upTo, participants: new Map([...f.participants].map(([u, p]) => [u, p.written])) });
    const unclaimed = new Set(fresh.map(dedupeText));
    return events.map((e) => (unclaimed.delete(dedupeText(e)) ? 'stored' : 'duplicate'));
  }

  /** Calls and events its fold cache holds (none without one), for metrics. */
  foldCacheSize(): FoldCacheSize {
    return this.cache?.size ?? { calls: 0, events: 0 };
  }

  /**
   * Runs a transaction holding the position lock in two round trips, on a connection of this DataSource's
   * pool (every pool pipelines: docs/architecture.md, "Two round trips"): BEGIN with the lock and `first` are sent
   * together; `work` gets `first`'s rows and returns the result with the statement sent together with
   * COMMIT (or none). A statement that fails aborts the transaction, so what was sent behind it does
   * nothing (a COMMIT then only ends it) and the failure is thrown. A connection whose ROLLBACK fails
   * (it was lost) is discarded, not returned to the pool.
   */
  private async lockedTransaction<R extends QueryResultRow, T>(
    first: QueryConfig,
    work: (rows: R[]) => { last: QueryConfig | null; result: T },
  ): Promise<T> {
    const pool = this.dataSource.isInitialized ? pgPool(this.dataSource) : undefined;
    if (!pool) throw new Error('database: expected an open ingest pool, got none (not open yet, or closed)');
    const client = await pool.connect();
    let broken: Error | undefined;
    // Once PostgreSQL has answered the COMMIT (COMMIT, or ROLLBACK for an aborted transaction), the
    // transaction is over: a ROLLBACK after it would only earn a "no transaction in progress" warning.
    let ended = false;
    try {
      // The lock id is a constant of ours; BEGIN and the lock go in one simple-protocol message.
      const [, read] = await allOrFirstFailure(client.query(`BEGIN; SELECT pg_advisory_xact_lock(${POSITION_LOCK})`), client.query<R>(first));
      const { last, result } = work(read.rows);
      // Sent in this order: the projection, then COMMIT behind it.
      const sent = last ? [client.query(last)] : [];
      const committing = client.query('COMMIT').then((r) => ((ended = true), r));
      const done = await allOrFirstFailure(...sent, committing);
      // A COMMIT of an aborted transaction answers ROLLBACK: only a COMMIT answered COMMIT stored the batch.
      const commit = done[done.length - 1] as QueryResult;
      if (commit.command !== 'COMMIT') throw new Error(`database: expected the batch committed, got ${commit.command}`);
      return result;
    } catch (err) {
      if (!ended) await client.query('ROLLBACK').catch((e: Error) => (broken = e));
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
    const callRows: object[] = [];
    const participantRows: object[] = [];
    for (const callEvents of groupByCall(calls, rows)) {
      if (callEvents.length === 0) continue;
      const { callRow, participants } = foldRows(callEvents);
      callRows.push(callRow);
      const { sdkAppId: a, callId: c } = callEvents[0];
      for (const p of participants.values()) participantRows.push({ a, c, ...p.row });
    }
    await tx.query(UPSERT_PROJECTION, [JSON.stringify(callRows), JSON.stringify(participantRows), null]);
  }
}

/**
 * The projection of one call from all its stored events: its `calls` row, and by user each participant's
 * row with what it was written from (`written`: the participant's fold and the call's columns its row copies).
 */
function foldRows(callEvents: readonly StoredFoldEvent[]): { callRow: object; participants: Map<string, { row: FoldedParticipant; written: string }> } {
  const { sdkAppId: a, callId: c } = callEvents[0];
  const { participants, ...call }: FoldedCall = foldCall(callEvents);
  let firstEventAt = Number.POSITIVE_INFINITY;
  for (const e of callEvents) if (e.eventTime < firstEventAt) firstEventAt = e.eventTime;
  const callRow = { a, c, ...call, participantCount: participants.length, firstEventAt, lastPosition: maxOf(callEvents.map((e) => e.position)) };
  const copied = [call.callType, call.mediaType, call.startedAt];
  return { callRow, participants: new Map(participants.map((p) => [p.userId, { row: p, written: JSON.stringify([p, ...copied]) }])) };
}

/**
 * Waits for every query sent together (so none is left to fail unheard) and then throws the first
 * failure in the order they were sent, which is the one that aborted the transaction.
 */
async function allOrFirstFailure<T extends unknown[]>(...queries: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const settled = await Promise.allSettled(queries);
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as T;
}

const maxOf = (positions: readonly string[]): string => positions.reduce((max, p) => (positionAbove(p, max) ? p : max), '0');

/** What is logged when a batch's partition could not be made before the batch was written. */
export const GUARD_FAILED = 'could not make the partition of a batch beforehand; its rows go to the default partition until the maintenance run moves them';

/**
 * The repository ingest writes through on `dataSource` (the main thread's ingest pool, the ingest
 * thread's, or a CLI's), with the partition guard of its batches; `onGuardError` hears a partition
 * that could not be made beforehand ({@link GUARD_FAILED}).
 */
export function ingestRepositoryOn(
  dataSource: DataSource,
  callMaxEvents: number,
  interval: PartitionInterval,
  onGuardError?: (err: unknown) => void,
  guard: GuardOptions = INGEST_GUARD,
): IngestRepository {
  return new IngestRepository(dataSource, callMaxEvents, new PartitionGuard(new EventPartitionRepository(dataSource), interval, onGuardError, undefined, guard), new FoldCache());
}

/**
 * The body stored with the event of `dedupeKey` (a v4 callback's first event holds the callback's whole
 * body), or null: one probe of the dedupe key's unique index, in the partition of `eventTime`.
 */
export async function storedEventBody(db: DataSource, sdkAppId: string, dedupeKey: string, eventTime: number): Promise<Record<string, unknown> | null> {
  const rows: { body: Record<string, unknown> }[] = await db.query(
    `SELECT body FROM call_events WHERE sdk_app_id = $1 AND dedupe_key = $2 AND event_time = to_timestamp($3)`,
    [sdkAppId, dedupeKey, eventTime],
  );
  return rows[0]?.body ?? null;
}
