import { Field, ObjectType } from 'type-graphql';
import type { CallListRecords, CallRow, ListedParticipant } from '../calls/records';
import type { ParticipantOutcome, Role } from '../domain/vocabulary';
import { ParticipantOutcomeEnum, RoleEnum } from './enums';
import { DateTimeScalar } from './scalars';

@ObjectType({ simpleResolvers: true, description: "One user's part in a call, from their own side" })
export class Participant {
  @Field(() => String)
  userId!: string;

  @Field(() => RoleEnum)
  role!: Role;

  @Field(() => ParticipantOutcomeEnum)
  outcome!: ParticipantOutcome;

  @Field(() => String, { nullable: true })
  platform!: string | null;

  @Field(() => DateTimeScalar, { nullable: true })
  invitedAt!: Date | null;

  @Field(() => DateTimeScalar, { nullable: true })
  answeredAt!: Date | null;

  @Field(() => DateTimeScalar, { nullable: true })
  leftAt!: Date | null;

  sdkAppId!: string;
  callId!: string;

  /** The call, when it was read with the participant (a history that shows calls), so `call` needs no query; with its lists when they were selected. */
  knownCall?: CallRow & CallListRecords;
}

export const toParticipant = (r: ListedParticipant & { call?: CallRow & CallListRecords }): Participant => {
  const { call, ...participant } = r;
  return Object.assign(new Participant(), participant, { knownCall: call });
};
