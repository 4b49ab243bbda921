import DataLoader from 'dataloader';
import type { GraphQLError, GraphQLFormattedError } from 'graphql';
import type { CallEventRecord, CallRecord, ParticipantRecord } from '../calls/records';
import type { Services } from './services';
import { AppError } from '../domain/app-error';
import type { AppScope } from '../domain/app-scope';
import { callKeyText, type CallKey } from '../domain/call-key';
import type { LiveHub } from '../live/live-hub';
import type { LiveOutlet } from '../live/live-subscription';

/** Per-request batch loaders: nested fields cost one statement per level, not one per parent. */
export interface Loaders {
  readonly participantsByCallRef: DataLoader<string, ParticipantRecord[]>;
  readonly eventsByCall: DataLoader<CallKey, CallEventRecord[], string>;
  readonly callByKey: DataLoader<CallKey, CallRecord | null, string>;
}

/** What every resolver receives. */
export interface GraphQLContext {
  readonly scope: AppScope;
  readonly services: Services;
  readonly loaders: Loaders;
  /** Present on WebSocket operations. */
  readonly live?: LiveContext;
}

/** What a subscription needs besides the query context. */
export interface LiveContext {
  readonly hub: LiveHub;
  /** Cuts off a consumer that fell too far behind; `cursor` is where it can resume. */
  readonly onSlowConsumer: (cursor: string | null) => void;
  /** Where the subscription's `next` payloads go: the socket's outbox, which frames them with the subscription id. */
  readonly outlet: LiveOutlet<Buffer>;
  /** Formats an error inside a `next` payload, as the transport formats every other error. */
  readonly formatError: (error: GraphQLError) => GraphQLFormattedError;
}

/** `cache: false` for long-lived (subscription) contexts, where cached rows would go stale. */
export function createLoaders(scope: AppScope, services: Services, cache = true): Loaders {
  return {
    participantsByCallRef: new DataLoader((refs) => services.participants.byCallRefs(scope, refs), { cache }),
    eventsByCall: new DataLoader((keys) => services.events.byCalls(scope, keys), { cacheKeyFn: callKeyText, cache }),
    callByKey: new DataLoader((keys) => services.calls.findByKeys(scope, keys), { cacheKeyFn: callKeyText, cache }),
  };
}

/** Reads `Bearer <key>` and returns the key's app scope; UNAUTHENTICATED otherwise. */
export async function authenticateBearer(authorization: unknown, services: Services): Promise<AppScope> {
  if (typeof authorization !== 'string' || authorization.trim() === '') {
    throw new AppError('UNAUTHENTICATED', 'authorization: expected "Bearer <api key>", got nothing', 'authorization');
  }
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  if (!match) throw new AppError('UNAUTHENTICATED', 'authorization: expected "Bearer <api key>", got another scheme', 'authorization');
  const scope = await services.apiKeys.authenticate(match[1]);
  if (scope === null) throw new AppError('UNAUTHENTICATED', 'authorization: expected an active API key, got an unknown or revoked key', 'authorization');
  return scope;
}

/** Builds the context of one authenticated operation. */
export async function createContext(authorization: unknown, services: Services): Promise<GraphQLContext> {
  const scope = await authenticateBearer(authorization, services);
  return { scope, services, loaders: createLoaders(scope, services) };
}
