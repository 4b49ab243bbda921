import { Field, ID, Int, ObjectType } from 'type-graphql';
import type { GraphQLResolveInfo } from 'graphql';
import type { CallLists, CallRow, ListedEvent, ListedParticipant } from '../calls/records';
import type { CallResult, CallStatus, CallType, MediaType } from '../domain/vocabulary';
import { CallResultEnum, CallStatusEnum, CallTypeEnum, MediaTypeEnum } from './enums';
import { DateTimeScalar } from './scalars';
import { selectedFields } from './selection';

@ObjectType({ simpleResolvers: true, description: 'A call, folded from all of its events' })
export class Call {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  sdkAppId!: string;

  @Field(() => String)
  callId!: string;

  @Field(() => String, { nullable: true })
  roomId!: string | null;

  @Field(() => CallTypeEnum, { nullable: true })
  callType!: CallType | null;

  @Field(() => MediaTypeEnum, { nullable: true })
  mediaType!: MediaType | null;

  @Field(() => CallStatusEnum)
  status!: CallStatus;

  @Field(() => CallResultEnum, { nullable: true, description: 'Set once the call has ended' })
  result!: CallResult | null;

  @Field(() => String, { nullable: true })
  callerId!: string | null;

  @Field(() => DateTimeScalar, { nullable: true })
  startedAt!: Date | null;

  @Field(() => DateTimeScalar, { nullable: true })
  acceptedAt!: Date | null;

  @Field(() => DateTimeScalar, { nullable: true })
  endedAt!: Date | null;

  @Field(() => Int, { nullable: true, description: 'From start to answer (or to the end when unanswered)' })
  ringSeconds!: number | null;

  @Field(() => Int, { nullable: true, description: 'From answer to end; 0 for an ended call nobody answered' })
  talkSeconds!: number | null;

  @Field(() => Int)
  participantCount!: number;

  @Field(() => DateTimeScalar)
  lastEventAt!: Date;

  /** Internal keys for nested resolvers. */
  ref!: string;

  /** Participants already read with the call (live updates, `call(callId)`), so nested fields need no query. */
  knownParticipants?: readonly ListedParticipant[];

  /** Events already read with the call (`call(callId)`), likewise. */
  knownEvents?: readonly ListedEvent[];
}

export const toCall = (r: CallRow & { participants?: readonly ListedParticipant[]; events?: readonly ListedEvent[] }): Call => {
  const { participants, events, ...call } = r;
  return Object.assign(new Call(), call, { id: r.ref, knownParticipants: participants, knownEvents: events });
};

/** The call record fields behind the GraphQL fields `names` selects on a call (`id` is the record's `ref`). */
export const callRecordFields = (names: ReadonlySet<string>): Set<string> => new Set([...names].map((n) => (n === 'id' ? 'ref' : n)));

/** The event record fields behind the GraphQL fields `names` selects on an event (`id` and `cursor` come from `position`). */
const eventRecordFields = (names: ReadonlySet<string>): Set<string> =>
  new Set([...names].map((n) => (n === 'id' || n === 'cursor' ? 'position' : n === 'event' ? 'type' : n)));

/**
 * The lists of the calls at `path` that the selection reads (`names`: the fields selected there), each
 * with the record fields it needs: what a read passes to have them come in the calls' own statement.
 */
export function callListsFor(info: Pick<GraphQLResolveInfo, 'fieldNodes' | 'fragments' | 'variableValues'>, path: readonly string[], names: ReadonlySet<string>): CallLists {
  return {
    participants: names.has('participants') && selectedFields(info, [...path, 'participants']),
    events: names.has('events') && eventRecordFields(selectedFields(info, [...path, 'events'])),
  };
}
