import { Field, ID, ObjectType } from 'type-graphql';
import type { ListedEvent } from '../calls/records';
import { eventCursor } from '../domain/cursor';
import type { CallEventType, CallResult, CallType, MediaType, Role } from '../domain/vocabulary';
import { CallEventTypeEnum, CallResultEnum, CallTypeEnum, MediaTypeEnum, RoleEnum } from './enums';
import { DateTimeScalar } from './scalars';

@ObjectType({ simpleResolvers: true, description: 'One stored callback, as Tencent sent it (normalised)' })
export class CallEvent {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { description: 'Commit-ordered position; pass it as `after` to resume a subscription or page' })
  cursor!: string;

  @Field(() => String)
  sdkAppId!: string;

  @Field(() => String)
  callId!: string;

  @Field(() => String, { nullable: true })
  userId!: string | null;

  @Field(() => RoleEnum, { nullable: true })
  role!: Role | null;

  @Field(() => CallEventTypeEnum)
  event!: CallEventType;

  @Field(() => String, { description: 'The Event as sent; empty for a status callback' })
  rawEvent!: string;

  @Field(() => CallTypeEnum, { nullable: true })
  callType!: CallType | null;

  @Field(() => MediaTypeEnum, { nullable: true })
  mediaType!: MediaType | null;

  @Field(() => CallResultEnum, { nullable: true })
  callResult!: CallResult | null;

  @Field(() => DateTimeScalar)
  eventTime!: Date;

  @Field(() => DateTimeScalar)
  receivedAt!: Date;

  @Field(() => String, { nullable: true })
  platform!: string | null;

  @Field(() => String, { nullable: true })
  clientIp!: string | null;

  position!: string;
}

export const toCallEvent = (r: ListedEvent): CallEvent =>
  Object.assign(new CallEvent(), r, { id: r.position, cursor: eventCursor(r.position), event: r.type });
