import type { GraphQLResolveInfo } from 'graphql';
import { Args, Ctx, Info, Query, Resolver } from 'type-graphql';
import { AppError } from '../domain/app-error';
import { ConnectionArgs } from './connection.args';
import { RejectedCallbackConnection } from './connections';
import type { GraphQLContext } from './context';
import { RejectedCallback } from './rejected-callback.type';
import { pageArgsFor } from './selection';

@Resolver()
export class QuarantineResolver {
  @Query(() => RejectedCallbackConnection, { description: 'The quarantine, newest first; keys with access to every app only' })
  async rejectedCallbacks(
    @Ctx() ctx: GraphQLContext,
    @Args(() => ConnectionArgs) args: ConnectionArgs,
    @Info() info: GraphQLResolveInfo,
  ): Promise<InstanceType<typeof RejectedCallbackConnection>> {
    if (!ctx.scope.all) throw new AppError('FORBIDDEN', 'rejectedCallbacks: expected an API key for all apps, got a key scoped to some apps');
    const { quarantine } = ctx.services;
    const page = await quarantine.list(pageArgsFor(info, args));
    return RejectedCallbackConnection.from({ page, count: () => quarantine.count() }, (r) => Object.assign(new RejectedCallback(), r));
  }
}
