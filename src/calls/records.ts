import type {
  CallEventType,
  CallResult,
  CallStatus,
  CallType,
  MediaType,
  ParticipantOutcome,
  Role,
} from '../domain/vocabulary';

export type { CallEventFilter, CallFilter, ParticipantFilter, TimeRange } from '../domain/filters';

/** A row of `calls`. `ref` is the internal id (bigint as text). */
export interface CallRecord {
  readonly ref: string;
  readonly sdkAppId: string;
  readonly callId: string;
  readonly roomId: string | null;
  readonly callType: CallType | null;
  readonly mediaType: MediaType | null;
  readonly status: CallStatus;
  readonly result: CallResult | null;
  readonly callerId: string | null;
  readonly startedAt: Date | null;
  readonly acceptedAt: Date | null;
  readonly endedAt: Date | null;
  readonly ringSeconds: number | null;
  readonly talkSeconds: number | null;
  readonly participantCount: number;
  readonly lastEventAt: Date;
  readonly lastPosition: string;
}

/** A row of `call_participants`, with its call's start time. */
export interface ParticipantRecord {
  readonly callRef: string;
  readonly sdkAppId: string;
  readonly callId: string;
  readonly userId: string;
  readonly role: Role;
  readonly outcome: ParticipantOutcome;
  readonly platform: string | null;
  readonly invitedAt: Date | null;
  readonly answeredAt: Date | null;
  readonly leftAt: Date | null;
  readonly startedAt: Date | null;
}

/** A row of `call_events` (without the body). `position` is a bigint as text. */
export interface CallEventRecord {
  readonly position: string;
  readonly sdkAppId: string;
  readonly callId: string;
  readonly userId: string | null;
  readonly role: Role | null;
  readonly type: CallEventType;
  readonly rawEvent: string;
  readonly callType: CallType | null;
  readonly mediaType: MediaType | null;
  readonly callResult: CallResult | null;
  readonly eventTime: Date;
  readonly receivedAt: Date;
  readonly platform: string | null;
  readonly clientIp: string | null;
}

/** A table's columns, each with the record field it fills. */
type FieldTable<R> = readonly (readonly [sql: string, field: keyof R & string])[];

/**
 * The select list of `table`, each column named `<prefix><field>`: every column, or only those of
 * `fields` and the `keys` (what nested reads, loaders and cursors need, whatever was asked).
 */
function columnList<R>(table: FieldTable<R>, keys: ReadonlySet<keyof R>, fields: ReadonlySet<string> | undefined, prefix: string): string {
  return table
    .filter(([, field]) => !fields || keys.has(field) || fields.has(field))
    .map(([sql, field]) => `${sql} AS "${prefix}${field}"`)
    .join(', ');
}

/** Copies the fields of `table` that `row` holds under `<prefix><field>` (a narrowed read leaves the others out). */
function takeFields<R>(table: FieldTable<R>, row: Record<string, unknown>, prefix: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [, field] of table) {
    const value = row[prefix + field];
    if (value !== undefined) out[field] = value;
  }
  return out;
}

/** Each call column and the record field it fills. */
const CALL_FIELDS: FieldTable<CallRecord> = [
  ['c.id::text', 'ref'],
  ['c.sdk_app_id', 'sdkAppId'],
  ['c.call_id', 'callId'],
  ['c.room_id', 'roomId'],
  ['c.call_type', 'callType'],
  ['c.media_type', 'mediaType'],
  ['c.status', 'status'],
  ['c.result', 'result'],
  ['c.caller_id', 'callerId'],
  ['c.started_at', 'startedAt'],
  ['c.accepted_at', 'acceptedAt'],
  ['c.ended_at', 'endedAt'],
  ['c.ring_seconds', 'ringSeconds'],
  ['c.talk_seconds', 'talkSeconds'],
  ['c.participant_count', 'participantCount'],
  ['c.last_event_at', 'lastEventAt'],
  ['c.last_position::text', 'lastPosition'],
];

/** The call fields every read returns: the call's keys (its participants and events are read by them) and the keyset. */
const CALL_KEYS = new Set(['ref', 'sdkAppId', 'callId', 'startedAt'] as const);

/**
 * A call as a read returns it when asked for some fields only: the keys always, the other fields
 * when they were asked for (absent otherwise). Fills a response; never a loader's cache.
 */
export type CallRow = Pick<CallRecord, typeof CALL_KEYS extends Set<infer K> ? K : never> & Partial<CallRecord>;

/** The call columns of `c`: all, or those of `fields` (record field names) and the keys. */
export const callColumns = (fields?: ReadonlySet<string>): string => columnList(CALL_FIELDS, CALL_KEYS, fields, '');

export const CALL_COLUMNS = callColumns();

/** The call columns of `c` joined to another row, named `call.<field>` (read back with {@link takeJoinedCall}). */
export const joinedCallColumns = (fields?: ReadonlySet<string>): string => columnList(CALL_FIELDS, CALL_KEYS, fields, 'call.');

/** Reads the `call.<field>` columns of a joined row back into a call. */
export function takeJoinedCall(row: Record<string, unknown>): CallRow {
  return takeFields(CALL_FIELDS, row, 'call.') as unknown as CallRow;
}

/** Each participant column and the record field it fills. */
const PARTICIPANT_FIELDS: FieldTable<ParticipantRecord> = [
  ['p.call_ref::text', 'callRef'],
  ['p.sdk_app_id', 'sdkAppId'],
  ['p.call_id', 'callId'],
  ['p.user_id', 'userId'],
  ['p.role', 'role'],
  ['p.outcome', 'outcome'],
  ['p.platform', 'platform'],
  ['p.invited_at', 'invitedAt'],
  ['p.answered_at', 'answeredAt'],
  ['p.left_at', 'leftAt'],
  ['p.started_at', 'startedAt'],
];

/** The participant fields every read returns: its call's keys and the keyset. */
const PARTICIPANT_KEYS = new Set(['callRef', 'sdkAppId', 'callId', 'userId', 'startedAt'] as const);

/** A participant as a read returns it when asked for some fields only (see {@link CallRow}). */
export type ParticipantRow = Pick<ParticipantRecord, typeof PARTICIPANT_KEYS extends Set<infer K> ? K : never> & Partial<ParticipantRecord>;

/** The participant columns of `p`: all, or those of `fields` (record field names) and the keys. */
export const participantColumns = (fields?: ReadonlySet<string>): string => columnList(PARTICIPANT_FIELDS, PARTICIPANT_KEYS, fields, '');

export const PARTICIPANT_COLUMNS = participantColumns();

/** The participant's own fields of a row that holds more (a participant joined with its call). */
export function takeParticipant(row: Record<string, unknown>): ParticipantRow {
  return takeFields(PARTICIPANT_FIELDS, row, '') as unknown as ParticipantRow;
}

export const EVENT_COLUMNS = `e.position::text AS "position", e.sdk_app_id AS "sdkAppId", e.call_id AS "callId",
  e.user_id AS "userId", e.role, e.event_type AS "type", e.raw_event AS "rawEvent", e.call_type AS "callType",
  e.media_type AS "mediaType", e.call_result AS "callResult", e.event_time AS "eventTime", e.received_at AS "receivedAt",
  e.platform, e.client_ip AS "clientIp"`;
