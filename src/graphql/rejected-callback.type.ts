import { Field, Int, ObjectType } from 'type-graphql';
import { DateTimeScalar } from './scalars';

@ObjectType({ simpleResolvers: true, description: 'A callback calltrail refused, kept with the reason' })
export class RejectedCallback {
  @Field(() => String)
  id!: string;

  @Field(() => String)
  reason!: string;

  @Field(() => String)
  errorCode!: string;

  @Field(() => String, { nullable: true })
  sdkAppId!: string | null;

  @Field(() => String, { description: 'Query string as received, secrets masked' })
  queryString!: string;

  @Field(() => String, { description: 'Body as received (up to 64 KiB)' })
  rawBody!: string;

  @Field(() => Int)
  bodyBytes!: number;

  @Field(() => Int, { description: 'How many times it arrived' })
  times!: number;

  @Field(() => DateTimeScalar)
  firstSeenAt!: Date;

  @Field(() => DateTimeScalar)
  lastSeenAt!: Date;
}
