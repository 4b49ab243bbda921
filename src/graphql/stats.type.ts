import { Field, Float, Int, ObjectType } from 'type-graphql';
import type { CallResult, CallStatus, CallType, MediaType } from '../domain/vocabulary';
import { CallResultEnum, CallStatusEnum, CallTypeEnum, MediaTypeEnum } from './enums';
import { DateTimeScalar } from './scalars';

@ObjectType({ simpleResolvers: true, description: 'One aggregate row: a time bucket and the grouped dimensions. Talk figures are over answered calls.' })
export class CallStatsRow {
  @Field(() => DateTimeScalar, { nullable: true, description: 'Start of the bucket in the requested time zone; null without interval' })
  bucket!: Date | null;

  @Field(() => MediaTypeEnum, { nullable: true })
  mediaType!: MediaType | null;

  @Field(() => CallTypeEnum, { nullable: true })
  callType!: CallType | null;

  @Field(() => CallResultEnum, { nullable: true })
  result!: CallResult | null;

  @Field(() => CallStatusEnum, { nullable: true })
  status!: CallStatus | null;

  @Field(() => Int)
  calls!: number;

  @Field(() => Int, { description: 'Calls that someone answered' })
  answered!: number;

  @Field(() => Float, { nullable: true, description: 'answered / calls' })
  answerRate!: number | null;

  @Field(() => Int, { description: 'Calls whose result is NOT_ANSWER' })
  missed!: number;

  @Field(() => Float)
  totalTalkSeconds!: number;

  @Field(() => Float, { nullable: true })
  avgTalkSeconds!: number | null;

  @Field(() => Float, { nullable: true })
  p50TalkSeconds!: number | null;

  @Field(() => Float, { nullable: true })
  p95TalkSeconds!: number | null;
}
