import type { DataSource, EntityManager } from 'typeorm';
import { POSITION_LOCK } from '../db/advisory-lock';
import type { PartitionGuard } from '../db/event-partitions.repository';
import { callKeyText, groupByCall, type CallKey } from '../domain/call-key';
import { foldCall, type FoldEvent, type FoldedCall } from '../domain/fold-call';
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

const INSERT_EVENTS = `
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
  RETURNING sdk_app_id AS "sdkAppId", call_id AS "callId", dedupe_key AS "dedupeKey", position::text AS position,
    extract(epoch FROM event_time)::float8 AS "eventTime"`;

const EVENT_FIELDS = `e.sdk_app_id AS "sdkAppId", e.call_id AS "callId", e.user_id AS "userId", e.role, e.event_type AS type, e.raw_event AS "rawEvent",
    e.call_type AS "callType", e.media_type AS "mediaType", e.room_id AS "roomId", e.call_result AS "callResult",
    extract(epoch FROM e.event_time)::float8 AS "eventTime", extract(epoch FROM e.start_call_at)::float8 AS "startCallTs",
    extract(epoch FROM e.accept_at)::float8 AS "acceptTs", extract(epoch FROM e.end_at)::float8 AS "endTs",
    e.platform, e.dedupe_key AS "dedupeKey", e.position::text AS position`;

/** Every stored event of each call: one index lookup per call and partition (ix_call_events_call), whatever the table's size. */
const SELECT_CALL_EVENTS = `
  SELECT ${EVENT_FIELDS}
  FROM jsonb_to_recordset($1::jsonb) AS k("sdkAppId" text, "callId" text)
  CROSS JOIN LATERAL (SELECT * FROM call_events WHERE sdk_app_id = k."sdkAppId" AND call_id = k."callId") e`;

/**
 * The same for calls that just got events between `lo` and `hi`: a call already in `calls` has all its
 * other events between its `first_event_at` and `last_event_at` (the fold's earliest and latest event
 * time, written under the same lock), so only the partitions of that span are read (run-time pruning); a
 * second of margin on each side covers the float round trip of times. A call not in `calls` yet, or
 * stored before `first_event_at` existed, is read without that bound.
 */
const SELECT_CALL_EVENTS_WITHIN = `
  -- MATERIALIZED: the bounds must be values of the outer side when call_events is scanned, for the executor to prune by them.
  WITH k AS MATERIALIZED (
    SELECT k."sdkAppId", k."callId",
      CASE WHEN c.first_event_at IS NULL THEN '-infinity'::timestamptz
        ELSE least(c.first_event_at, to_timestamp(k.lo)) - interval '1 second' END AS lo,
      CASE WHEN c.id IS NULL THEN 'infinity'::timestamptz
        ELSE greatest(c.last_event_at, to_timestamp(k.hi)) + interval '1 second' END AS hi
    FROM jsonb_to_recordset($1::jsonb) AS k("sdkAppId" text, "callId" text, lo float8, hi float8)
    LEFT JOIN calls c ON c.sdk_app_id = k."sdkAppId" AND c.call_id = k."callId"
  )
  SELECT ${EVENT_FIELDS}
  FROM k
  CROSS JOIN LATERAL (
    SELECT * FROM call_events
    WHERE sdk_app_id = k."sdkAppId" AND call_id = k."callId" AND event_time >= k.lo AND event_time <= k.hi
  ) e`;

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
  )
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
    call_type = EXCLUDED.call_type, media_type = EXCLUDED.media_type, started_at = EXCLUDED.started_at`;

/** A call and the span of event times (Unix seconds) a batch just added to it. */
interface CallSpan extends CallKey {
  readonly lo: number;
  readonly hi: number;
}

interface StoredFoldEvent extends FoldEvent, CallKey {
  readonly position: string;
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
   */
  async writeBatch(events: readonly CallbackEvent[]): Promise<WriteResult[]> {
    await this.guard?.ensure(events.map((e) => e.eventTime));
    const inserted = await this.dataSource.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [POSITION_LOCK]);
      const rows: (CallKey & { dedupeKey: string; position: string; eventTime: number })[] = await tx.query(INSERT_EVENTS, [JSON.stringify(events)]);
      if (rows.length === 0) return rows;
      // Each touched call, with the span of event times this batch added to it.
      const calls = new Map<string, CallSpan>();
      for (const r of rows) {
        const key = callKeyText(r);
        const span = calls.get(key);
        if (span) calls.set(key, { ...span, lo: Math.min(span.lo, r.eventTime), hi: Math.max(span.hi, r.eventTime) });
        else calls.set(key, { sdkAppId: r.sdkAppId, callId: r.callId, lo: r.eventTime, hi: r.eventTime });
      }
      await this.refold(tx, [...calls.values()], this.maxEventsPerCall);
      await tx.query('SELECT pg_notify($1, $2)', [EVENTS_CHANNEL, maxOf(rows.map((r) => r.position))]);
      return rows;
    });
    const unclaimed = new Set(inserted.map(dedupeText));
    return events.map((e) => (unclaimed.delete(dedupeText(e)) ? 'stored' : 'duplicate'));
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

  /**
   * Folds each call from all its stored events and upserts calls and participants. Calls given with the
   * span of their new events are read within their known span (see SELECT_CALL_EVENTS_WITHIN); calls
   * given as keys alone (a rebuild, which must not trust `calls`) are read whole.
   */
  private async refold(tx: EntityManager, calls: readonly CallKey[] | readonly CallSpan[], maxEvents = Number.POSITIVE_INFINITY): Promise<void> {
    const within = calls.length > 0 && 'lo' in calls[0];
    const rows: StoredFoldEvent[] = await tx.query(within ? SELECT_CALL_EVENTS_WITHIN : SELECT_CALL_EVENTS, [JSON.stringify(calls)]);
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
    await tx.query(UPSERT_PROJECTION, [JSON.stringify(callRows), JSON.stringify(participantRows)]);
  }
}

const maxOf = (positions: readonly string[]): string => positions.reduce((max, p) => (BigInt(p) > BigInt(max) ? p : max), '0');
