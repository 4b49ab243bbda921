import type { NodeProjection } from '../db/pagination';
import { cursorText, isoText, jsonObject, nameLiteral, utcText } from '../db/sql';
import { isoFromUtcText, parseTimestamptz } from '../db/timestamps';
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

/** A table's columns, each with the record field it fills (`timestamp` marks a timestamptz, for {@link jsonRows}). */
type FieldTable<R> = readonly (readonly [sql: string, field: keyof R & string, kind?: 'timestamp'])[];

/**
 * The select list of `table`, each column named `<prefix><field>`: every column, or only those of
 * `fields` and the `keys` (what nested reads, loaders and cursors need, whatever was asked).
 */
function columnList<R>(table: FieldTable<R>, keys: ReadonlySet<keyof R>, fields: ReadonlySet<string> | undefined, prefix: string): string {
  return narrow(table, keys, fields)
    .map(([sql, field]) => `${sql} AS "${prefix}${field}"`)
    .join(', ');
}

/** The columns of `table` that `fields` (record field names) or `keys` name; all of them without `fields`. */
function narrow<R>(table: FieldTable<R>, keys: ReadonlySet<keyof R>, fields: ReadonlySet<string> | undefined): FieldTable<R> {
  return fields ? table.filter(([, field]) => keys.has(field) || fields.has(field)) : table;
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
  ['c.started_at', 'startedAt', 'timestamp'],
  ['c.accepted_at', 'acceptedAt', 'timestamp'],
  ['c.ended_at', 'endedAt', 'timestamp'],
  ['c.ring_seconds', 'ringSeconds'],
  ['c.talk_seconds', 'talkSeconds'],
  ['c.participant_count', 'participantCount'],
  ['c.last_event_at', 'lastEventAt', 'timestamp'],
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

/**
 * PostgreSQL's text of a timestamptz, parsed by the parser calltrail's pools apply to a timestamptz
 * column (the text it receives is the same), so a record read through {@link jsonRows} equals one read as rows.
 */
const parseTimestamp = parseTimestamptz as (text: string) => Date;

/**
 * The rows of `table` that `source` (FROM … WHERE …) yields, as one JSON array of arrays in `orderBy`
 * order: a nested list read in its parent's statement (read back with {@link fromJsonRows}). Every
 * value is text or null: the columns are text, and timestamps go as their text.
 */
function jsonRows<R>(table: FieldTable<R>, source: string, orderBy: string): string {
  const values = table.map(([sql, , kind]) => (kind === 'timestamp' ? `(${sql})::text` : sql));
  return `(SELECT coalesce(json_agg(json_build_array(${values.join(', ')}) ORDER BY ${orderBy}), '[]') ${source})`;
}

/** A {@link jsonRows} column as pg hands it over: one array of text or null per row. */
export type JsonRows = readonly (readonly (string | null)[])[];

/** Records from the arrays of a {@link jsonRows} column. */
function fromJsonRows<R>(table: FieldTable<R>, rows: JsonRows): R[] {
  return rows.map((values) => {
    const out: Record<string, unknown> = {};
    table.forEach(([, field, kind], i) => {
      const value = values[i];
      out[field] = kind === 'timestamp' && value !== null ? parseTimestamp(value) : value;
    });
    return out as R;
  });
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
  ['p.invited_at', 'invitedAt', 'timestamp'],
  ['p.answered_at', 'answeredAt', 'timestamp'],
  ['p.left_at', 'leftAt', 'timestamp'],
  ['p.started_at', 'startedAt', 'timestamp'],
];

/** The order of a call's participants: the caller first, then by invitation. */
export const PARTICIPANT_ORDER = `(p.role = 'CALLER') DESC, p.invited_at, p.user_id`;

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

/** Each event column (the body aside) and the record field it fills. */
const EVENT_FIELDS: FieldTable<CallEventRecord> = [
  ['e.position::text', 'position'],
  ['e.sdk_app_id', 'sdkAppId'],
  ['e.call_id', 'callId'],
  ['e.user_id', 'userId'],
  ['e.role', 'role'],
  ['e.event_type', 'type'],
  ['e.raw_event', 'rawEvent'],
  ['e.call_type', 'callType'],
  ['e.media_type', 'mediaType'],
  ['e.call_result', 'callResult'],
  ['e.event_time', 'eventTime', 'timestamp'],
  ['e.received_at', 'receivedAt', 'timestamp'],
  ['e.platform', 'platform'],
  ['e.client_ip', 'clientIp'],
];

export const EVENT_COLUMNS = columnList(EVENT_FIELDS, new Set(), undefined, '');


/** The participant fields a call's list always returns: what `Participant.call` and the list's order need. */
const LISTED_PARTICIPANT_KEYS = new Set(['callRef', 'sdkAppId', 'callId', 'userId'] as const);

/** The event fields a call's list always returns: what `CallEvent.call`, `id` and `cursor` need. */
const LISTED_EVENT_KEYS = new Set(['position', 'sdkAppId', 'callId'] as const);

/** A participant as a call's list returns it when asked for some fields only (see {@link CallRow}). */
export type ListedParticipant = Pick<ParticipantRecord, typeof LISTED_PARTICIPANT_KEYS extends Set<infer K> ? K : never> & Partial<ParticipantRecord>;

/** An event as a call's list returns it when asked for some fields only (see {@link CallRow}). */
export type ListedEvent = Pick<CallEventRecord, typeof LISTED_EVENT_KEYS extends Set<infer K> ? K : never> & Partial<CallEventRecord>;

/**
 * Which lists of a call are read in the call's own statement (`Call.participants`, `Call.events`):
 * none (`false` or absent), every field (`true`), or the record fields of a set and the keys.
 */
export interface CallLists {
  readonly participants?: boolean | ReadonlySet<string>;
  readonly events?: boolean | ReadonlySet<string>;
}

const listedParticipants = (fields: true | ReadonlySet<string>) => narrow(PARTICIPANT_FIELDS, LISTED_PARTICIPANT_KEYS, fields === true ? undefined : fields);
const listedEvents = (fields: true | ReadonlySet<string>) => narrow(EVENT_FIELDS, LISTED_EVENT_KEYS, fields === true ? undefined : fields);

/**
 * The JSON columns of the lists `lists` asks for, of call `c`: its participants in {@link PARTICIPANT_ORDER}
 * named `<prefix>participants`, its events in position order named `<prefix>events` (read back with
 * {@link takeCallLists} and the same `lists`).
 */
export function callListColumns(lists: CallLists, prefix = ''): string[] {
  const out: string[] = [];
  if (lists.participants) {
    const source = 'FROM call_participants p WHERE p.call_ref = c.id AND p.sdk_app_id = c.sdk_app_id';
    out.push(`${jsonRows(listedParticipants(lists.participants), source, PARTICIPANT_ORDER)} AS "${prefix}participants"`);
  }
  if (lists.events) {
    const source = 'FROM call_events e WHERE e.sdk_app_id = c.sdk_app_id AND e.call_id = c.call_id';
    out.push(`${jsonRows(listedEvents(lists.events), source, 'e.position')} AS "${prefix}events"`);
  }
  return out;
}

/** The lists of a call read with {@link callListColumns}. */
export interface CallListRecords {
  readonly participants?: ListedParticipant[];
  readonly events?: ListedEvent[];
}

/** Reads the lists of {@link callListColumns} back from `row`, given the same `lists`. */
export function takeCallLists(row: Record<string, unknown>, lists: CallLists, prefix = ''): CallListRecords {
  const participants = row[`${prefix}participants`] as JsonRows | undefined;
  const events = row[`${prefix}events`] as JsonRows | undefined;
  return {
    ...(lists.participants && participants && { participants: fromJsonRows(listedParticipants(lists.participants), participants) as ListedParticipant[] }),
    ...(lists.events && events && { events: fromJsonRows(listedEvents(lists.events), events) as ListedEvent[] }),
  };
}

/**
 * One key of an object a compiled read returns (src/graphql/compiled-reads.ts), in response order: a
 * record field, a constant (`__typename`), an event's cursor, a participant's call, or a call's
 * participants or events.
 */
export type RenderedEntry =
  | { readonly key: string; readonly kind: 'field'; readonly field: string }
  | { readonly key: string; readonly kind: 'const'; readonly value: string }
  | { readonly key: string; readonly kind: 'cursor' }
  | { readonly key: string; readonly kind: 'call' | 'participants' | 'events'; readonly shape: RenderedShape };

export type RenderedShape = readonly RenderedEntry[];

/** The column of one field of `table`, and whether it is a timestamp. */
function fieldColumn<R>(table: FieldTable<R>, field: string, owner: string): { sql: string; timestamp: boolean } {
  const column = table.find(([, f]) => f === field);
  if (!column) throw new Error(`rendered ${owner}: no field "${field}"`);
  return { sql: column[0], timestamp: column[2] === 'timestamp' };
}

/** The SQL value of one field of `table` inside JSON: timestamps as the API's text, every other column as it is. */
function renderedField<R>(table: FieldTable<R>, field: string, owner: string): string {
  const { sql, timestamp } = fieldColumn(table, field, owner);
  return timestamp ? isoText(sql) : sql;
}

/** `shape` as a JSON object: constants and fields of `table` here, anything else by `other` (which throws for what the object has not). */
function renderedObject<R>(table: FieldTable<R>, owner: string, shape: RenderedShape, other: (entry: RenderedEntry) => string): string {
  return jsonObject(
    shape.map((entry) => {
      if (entry.kind === 'const') return [entry.key, `${nameLiteral(entry.value)}::text`];
      if (entry.kind === 'field') return [entry.key, renderedField(table, entry.field, owner)];
      return [entry.key, other(entry)];
    }),
  );
}

const notIn = (owner: string) => (entry: RenderedEntry): never => {
  throw new Error(`rendered ${owner}: no ${entry.kind} "${entry.key}" here`);
};

/**
 * A list of call `c` as a JSON array of objects of `entry.shape`, read in the same statement like
 * {@link callListColumns}: its participants in {@link PARTICIPANT_ORDER}, its events in position order.
 */
function callListSql(entry: RenderedEntry): string {
  if (entry.kind === 'participants') {
    const participant = renderedObject(PARTICIPANT_FIELDS, 'participant', entry.shape, notIn('listed participant'));
    return `(SELECT coalesce(json_agg(${participant} ORDER BY ${PARTICIPANT_ORDER}), '[]'::json) FROM call_participants p WHERE p.call_ref = c.id AND p.sdk_app_id = c.sdk_app_id)`;
  }
  if (entry.kind === 'events') {
    return `(SELECT coalesce(json_agg(${renderedEvent(entry.shape)} ORDER BY e.position), '[]'::json) FROM call_events e WHERE e.sdk_app_id = c.sdk_app_id AND e.call_id = c.call_id)`;
  }
  return notIn('call')(entry);
}

/** An event (`e`) as a JSON object of `shape`; its cursor as `eventCursor` writes it. */
function renderedEvent(shape: RenderedShape): string {
  return renderedObject(EVENT_FIELDS, 'event', shape, (entry) => (entry.kind === 'cursor' ? cursorText('event', ['e.position::text']) : notIn('event')(entry)));
}

/** The record fields of a call, a participant and an event a compiled read can return. */
export const RENDERED_CALL_FIELDS: ReadonlySet<string> = new Set(CALL_FIELDS.map(([, field]) => field));
export const RENDERED_PARTICIPANT_FIELDS: ReadonlySet<string> = new Set(PARTICIPANT_FIELDS.map(([, field]) => field));
export const RENDERED_EVENT_FIELDS: ReadonlySet<string> = new Set(EVENT_FIELDS.map(([, field]) => field));

/**
 * The select list of an object of a compiled read, and how to build the object from a row: each field
 * a column (a timestamp as utcText's text, made the API's text by the builder), a call's lists as JSON
 * built in the same statement with timestamps as the API's text ({@link callListSql}), constants in the builder.
 */
export type Projection = NodeProjection;

/** `shape` of a row of `table`, its columns named `<alias><i>`; `other` takes entries that are not fields or constants. */
function project<R>(
  table: FieldTable<R>,
  owner: string,
  shape: RenderedShape,
  alias: string,
  other: (entry: RenderedEntry, alias: string) => { columns: readonly string[]; value(row: Readonly<Record<string, unknown>>): unknown },
): Projection {
  const columns: string[] = [];
  const steps: [key: string, value: (row: Readonly<Record<string, unknown>>) => unknown][] = [];
  shape.forEach((entry, i) => {
    const name = `${alias}${i}`;
    if (entry.kind === 'const') {
      const value = entry.value;
      steps.push([entry.key, () => value]);
    } else if (entry.kind === 'field') {
      // A timestamp column as PostgreSQL's cheapest text of it, made the API's text here (isoFromUtcText).
      const { sql, timestamp } = fieldColumn(table, entry.field, owner);
      columns.push(`${timestamp ? utcText(sql) : sql} AS "${name}"`);
      steps.push([entry.key, timestamp ? (row) => isoFromUtcText(row[name] as string | null) : (row) => row[name]]);
    } else {
      const part = other(entry, name);
      columns.push(...part.columns);
      steps.push([entry.key, part.value]);
    }
  });
  return {
    columns,
    build(row) {
      const out: Record<string, unknown> = {};
      for (const [key, value] of steps) out[key] = value(row);
      return out;
    },
  };
}

/** A call (`c`) of a compiled read: its fields as columns, its lists as JSON columns. */
export function callProjection(shape: RenderedShape, alias = 'n'): Projection {
  return project(CALL_FIELDS, 'call', shape, alias, (entry, name) => {
    return { columns: [`${callListSql(entry)} AS "${name}"`], value: (row) => row[name] };
  });
}

/** A participant (`p`, its call joined as `c`) of a compiled read. */
export function participantProjection(shape: RenderedShape, alias = 'n'): Projection {
  return project(PARTICIPANT_FIELDS, 'participant', shape, alias, (entry, name) => {
    if (entry.kind !== 'call') return notIn('participant')(entry);
    const call = callProjection(entry.shape, `${name}_`);
    return { columns: call.columns, value: (row) => call.build(row) };
  });
}
