import DataLoader from 'dataloader';
import type { CallEventRecord, CallKey, CallRecord, ParticipantRecord } from '../calls/records';
import type { CallServices } from '../calls/services';
import { AppError } from '../domain/app-error';
import type { AppScope } from '../domain/app-scope';

/** Per-request batch loaders: nested fields cost one statement per level, not one per parent. */
export interface Loaders {
  readonly participantsByCallRef: DataLoader<string, ParticipantRecord[]>;
  readonly eventsByCall: DataLoader<CallKey, CallEventRecord[], string>;
  readonly callByKey: DataLoader<CallKey, CallRecord | null, string>;
}

/** What every resolver receives. */
export interface GraphQLContext {
  readonly scope: AppScope;
  readonly services: CallServices;
  readonly loaders: Loaders;
}

const keyOf = (k: CallKey) => `${k.sdkAppId}\n${k.callId}`;

export function createLoaders(scope: AppScope, services: CallServices): Loaders {
  return {
    participantsByCallRef: new DataLoader((refs) => services.participants.byCallRefs(scope, refs)),
    eventsByCall: new DataLoader((keys) => services.events.byCalls(scope, keys), { cacheKeyFn: keyOf }),
    callByKey: new DataLoader((keys) => services.calls.findByKeys(scope, keys), { cacheKeyFn: keyOf }),
  };
}

/** Reads `Bearer <key>` and returns the key's app scope; UNAUTHENTICATED otherwise. */
export async function authenticateBearer(authorization: unknown, services: CallServices): Promise<AppScope> {
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
export async function createContext(authorization: unknown, services: CallServices): Promise<GraphQLContext> {
  const scope = await authenticateBearer(authorization, services);
  return { scope, services, loaders: createLoaders(scope, services) };
}
