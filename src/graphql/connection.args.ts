import { ArgsType, Field, Int } from 'type-graphql';
import type { PageArgs } from '../calls/pagination';

/** Relay arguments: `first`/`after` forward, `last`/`before` backward (at most 500 per page). */
@ArgsType()
export class ConnectionArgs implements PageArgs {
  @Field(() => Int, { nullable: true })
  first?: number | null;

  @Field(() => String, { nullable: true })
  after?: string | null;

  @Field(() => Int, { nullable: true })
  last?: number | null;

  @Field(() => String, { nullable: true })
  before?: string | null;
}

/** Forward-only pages (the quarantine). */
@ArgsType()
export class ForwardArgs implements PageArgs {
  @Field(() => Int, { nullable: true })
  first?: number | null;

  @Field(() => String, { nullable: true })
  after?: string | null;
}
