import { registerEnumType } from 'type-graphql';
import {
  CALL_EVENT_TYPES,
  CALL_RESULTS,
  CALL_STATUSES,
  CALL_TYPES,
  MEDIA_TYPES,
  PARTICIPANT_OUTCOMES,
  ROLES,
} from '../domain/vocabulary';

/** A TS enum-like object from a list of values, as type-graphql registers enums. */
const enumOf = <T extends string>(values: readonly T[]) => Object.fromEntries(values.map((v) => [v, v])) as { [K in T]: K };

export const MediaTypeEnum = enumOf(MEDIA_TYPES);
export const CallTypeEnum = enumOf(CALL_TYPES);
export const RoleEnum = enumOf(ROLES);
export const CallStatusEnum = enumOf(CALL_STATUSES);
export const CallResultEnum = enumOf(CALL_RESULTS);
export const ParticipantOutcomeEnum = enumOf(PARTICIPANT_OUTCOMES);
export const CallEventTypeEnum = enumOf(CALL_EVENT_TYPES);
export const CallOrderEnum = enumOf(['STARTED_AT_DESC', 'STARTED_AT_ASC'] as const);
export const CallStatsDimensionEnum = enumOf(['MEDIA_TYPE', 'CALL_TYPE', 'RESULT', 'STATUS'] as const);
export const StatsIntervalEnum = enumOf(['HOUR', 'DAY', 'WEEK', 'MONTH'] as const);

registerEnumType(MediaTypeEnum, { name: 'MediaType' });
registerEnumType(CallTypeEnum, { name: 'CallType', description: 'SINGLE: one-to-one; GROUP: group call' });
registerEnumType(RoleEnum, { name: 'Role' });
registerEnumType(CallStatusEnum, { name: 'CallStatus' });
registerEnumType(CallResultEnum, { name: 'CallResult', description: "Tencent's CallResult words; UNKNOWN for a word calltrail does not know" });
registerEnumType(ParticipantOutcomeEnum, { name: 'ParticipantOutcome' });
registerEnumType(CallEventTypeEnum, {
  name: 'CallEventType',
  description:
    'v1 event names; CALL_RESULT is a v1 status callback; OTHER an event name or v4 action calltrail does not know (see rawEvent). ' +
    'A v4 callback is stored as one event per user it names: CALL_STARTED, MEMBER_* (one per ActionType, as sent in rawEvent), CALL_RECORD.',
  valuesConfig: {
    CALL_STARTED: { description: 'v4 Call.CallbackAfterStartCall, one per user of UserList (rawEvent: their Status)' },
    MEMBER_INVITED: { description: 'v4 ActionType Invited / Invite' },
    MEMBER_ACCEPTED: { description: 'v4 ActionType Accept / Answer' },
    MEMBER_JOINED: { description: 'v4 ActionType Join' },
    MEMBER_REJECTED: { description: 'v4 ActionType Reject' },
    MEMBER_NOT_ANSWERED: { description: 'v4 ActionType NotAnswer' },
    MEMBER_CANCELED: { description: 'v4 ActionType Cancel_Invite / Canncel_Invite' },
    MEMBER_HUNG_UP: { description: 'v4 ActionType Hang Up / Hangup' },
    MEMBER_OFFLINE: { description: 'v4 ActionType Offline (heartbeat expired)' },
    CALL_RECORD: { description: 'v4 Call.CallbackAfterEndCall, one per user of the record (the caller, then CalleeList_Account)' },
  },
});
registerEnumType(CallOrderEnum, { name: 'CallOrder' });
registerEnumType(CallStatsDimensionEnum, { name: 'CallStatsDimension' });
registerEnumType(StatsIntervalEnum, { name: 'StatsInterval' });
