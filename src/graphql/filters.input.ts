import { Field, InputType } from 'type-graphql';
import type {
  CallEventType,
  CallResult,
  CallStatus,
  CallType,
  MediaType,
  ParticipantOutcome,
  Role,
} from '../domain/vocabulary';
import {
  CallEventTypeEnum,
  CallResultEnum,
  CallStatusEnum,
  CallTypeEnum,
  MediaTypeEnum,
  ParticipantOutcomeEnum,
  RoleEnum,
} from './enums';
import { DateTimeScalar } from './scalars';

@InputType({ description: 'from inclusive, to exclusive; either may be omitted' })
export class TimeRange {
  @Field(() => DateTimeScalar, { nullable: true })
  from?: Date | null;

  @Field(() => DateTimeScalar, { nullable: true })
  to?: Date | null;
}

/** The fields every filter shares; type-graphql copies them into each subclass. */
@InputType('AppUserFilter')
abstract class AppUserFilter {
  @Field(() => String, { nullable: true })
  sdkAppId?: string | null;

  @Field(() => String, { nullable: true })
  userId?: string | null;

  @Field(() => RoleEnum, { nullable: true })
  role?: Role | null;

  @Field(() => MediaTypeEnum, { nullable: true })
  mediaType?: MediaType | null;

  @Field(() => CallTypeEnum, { nullable: true })
  callType?: CallType | null;
}

@InputType({ description: 'userId with role: calls in which that user took part in that role' })
export class CallFilter extends AppUserFilter {
  @Field(() => String, { nullable: true })
  callId?: string | null;

  @Field(() => String, { nullable: true })
  roomId?: string | null;

  @Field(() => [CallStatusEnum], { nullable: true })
  status?: CallStatus[] | null;

  @Field(() => [CallResultEnum], { nullable: true })
  result?: CallResult[] | null;

  @Field(() => TimeRange, { nullable: true })
  startedAt?: TimeRange | null;
}

@InputType({ description: "A user's call history from their own side" })
export class ParticipantFilter extends AppUserFilter {
  @Field(() => [ParticipantOutcomeEnum], { nullable: true })
  outcome?: ParticipantOutcome[] | null;

  @Field(() => TimeRange, { nullable: true })
  startedAt?: TimeRange | null;
}

@InputType()
export class CallEventFilter extends AppUserFilter {
  @Field(() => String, { nullable: true })
  callId?: string | null;

  @Field(() => [CallEventTypeEnum], { nullable: true })
  events?: CallEventType[] | null;

  @Field(() => TimeRange, { nullable: true })
  eventTime?: TimeRange | null;
}
