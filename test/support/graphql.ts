import type { DataSource } from 'typeorm';
import { ApiKeyRepository } from '../../src/api-keys/api-key.repository';
import { IngestRepository } from '../../src/ingest/ingest.repository';
import { parseV1Callback } from '../../src/ingest/trtc-v1.schema';
import { commandOf, type CallbackBody } from './callbacks';

export interface GraphQLReply<T = Record<string, unknown>> {
  readonly status: number;
  readonly data: T | null;
  readonly errors: { message: string; extensions?: { code?: string; field?: string } }[] | undefined;
}

/** POSTs a GraphQL operation with `Authorization: Bearer <key>` (no header when key is null). */
export async function gql<T = Record<string, any>>(baseUrl: string, key: string | null, query: string, variables: Record<string, unknown> = {}): Promise<GraphQLReply<T>> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (key !== null) headers.authorization = `Bearer ${key}`;
  const res = await fetch(`${baseUrl}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  const body = (await res.json()) as { data?: T | null; errors?: GraphQLReply['errors'] };
  return { status: res.status, data: body.data ?? null, errors: body.errors };
}

/** Stores callbacks through the real parser and batch transaction (no HTTP), one batch per call. */
export async function seed(ds: DataSource, sdkAppId: string, bodies: CallbackBody[]): Promise<void> {
  const repo = new IngestRepository(ds);
  const events = bodies.map((b) => parseV1Callback(sdkAppId, { command: commandOf(b), optplatform: 'Android' }, b));
  for (let i = 0; i < events.length; i += 400) await repo.writeBatch(events.slice(i, i + 400));
}

/** Creates an API key and returns its secret. */
export async function createKey(ds: DataSource, name: string, apps: string[] | null): Promise<string> {
  return (await new ApiKeyRepository(ds).create(name, apps)).key;
}
