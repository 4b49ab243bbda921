import { ArgsType, Field, Int } from 'type-graphql';
import type { PageArgs } from '../db/pagination';

/** Forward pages: `first` after the cursor `after` (at most 500 per page). */
@ArgsType()
export class ForwardArgs implements PageArgs {
  @Field(() => Int, { nullable: true })
  first?: number | null;

  @Field(() => String, { nullable: true })
  after?: string | null;
}

/** Relay arguments: `first`/`after` forward, `last`/`before` backward. */
@ArgsType()
export class ConnectionArgs extends ForwardArgs {
  @Field(() => Int, { nullable: true })
  last?: number | null;

  @Field(() => String, { nullable: true })
  before?: string | null;
}
