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

/** Each call column and the record field it fills. */
const CALL_FIELDS: readonly (readonly [sql: string, field: keyof CallRecord])[] = [
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

export const CALL_COLUMNS = CALL_FIELDS.map(([sql, field]) => `${sql} AS "${field}"`).join(', ');

/** The call columns of `c` joined to another row, named `call.<field>` (read back with {@link takeJoinedCall}). */
export const JOINED_CALL_COLUMNS = CALL_FIELDS.map(([sql, field]) => `${sql} AS "call.${field}"`).join(', ');

/** Reads the `call.<field>` columns of a joined row back into a call record. */
export function takeJoinedCall(row: Record<string, unknown>): CallRecord {
  const call: Record<string, unknown> = {};
  for (const [, field] of CALL_FIELDS) call[field] = row[`call.${field}`];
  return call as unknown as CallRecord;
}

/** Each participant column and the record field it fills. */
const PARTICIPANT_FIELDS: readonly (readonly [sql: string, field: keyof ParticipantRecord])[] = [
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

export const PARTICIPANT_COLUMNS = PARTICIPANT_FIELDS.map(([sql, field]) => `${sql} AS "${field}"`).join(', ');

/** The participant's own fields of a row that holds more (a participant joined with its call). */
export function takeParticipant(row: Record<string, unknown>): ParticipantRecord {
  const participant: Record<string, unknown> = {};
  for (const [, field] of PARTICIPANT_FIELDS) participant[field] = row[field];
  return participant as unknown as ParticipantRecord;
}

export const EVENT_COLUMNS = `e.position::text AS "position", e.sdk_app_id AS "sdkAppId", e.call_id AS "callId",
  e.user_id AS "userId", e.role, e.event_type AS "type", e.raw_event AS "rawEvent", e.call_type AS "callType",
  e.media_type AS "mediaType", e.call_result AS "callResult", e.event_time AS "eventTime", e.received_at AS "receivedAt",
  e.platform, e.client_ip AS "clientIp"`;
