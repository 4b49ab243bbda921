import { Field, ID, Int, ObjectType } from 'type-graphql';
import type { CallEventRecord, CallRow, ParticipantRecord } from '../calls/records';
import type { CallResult, CallStatus, CallType, MediaType } from '../domain/vocabulary';
import { CallResultEnum, CallStatusEnum, CallTypeEnum, MediaTypeEnum } from './enums';
import { DateTimeScalar } from './scalars';

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
  knownParticipants?: readonly ParticipantRecord[];

  /** Events already read with the call (`call(callId)`), likewise. */
  knownEvents?: readonly CallEventRecord[];
}

export const toCall = (r: CallRow & { participants?: readonly ParticipantRecord[]; events?: readonly CallEventRecord[] }): Call => {
  const { participants, events, ...call } = r;
  return Object.assign(new Call(), call, { id: r.ref, knownParticipants: participants, knownEvents: events });
};

/** The call record fields behind the GraphQL fields `names` selects on a call (`id` is the record's `ref`). */
export const callRecordFields = (names: ReadonlySet<string>): Set<string> => new Set([...names].map((n) => (n === 'id' ? 'ref' : n)));
