import type { DataSource } from 'typeorm';
import type { Config } from '../config';
import { callbackRoutes } from './callback.route';
import { healthRoutes } from './health.route';
import { createIngest } from './ingest.assembly';
import { createMetrics } from './metrics';
import { createServer } from './server';

/** A database that is not open yet: every statement fails, as when PostgreSQL is down. */
const NOT_OPEN = (() => {
  const fail = () => Promise.reject(new Error('database: expected to be open, got not open yet (calltrail is starting)'));
  return { query: fail, transaction: fail } as unknown as DataSource;
})();

/**
 * What listens while calltrail starts with its database unreachable: callbacks only, each kept in
 * the outage spool before its 200 (docs/reliability.md, "Starting during an outage"), `/healthz`
 * and `/readyz`. The full app replaces it once the database opens.
 */
export async function startStandby(config: Config): Promise<{ log: (msg: string, err: unknown) => void; close(): Promise<void> }> {
  const server = createServer(config);
  const metrics = createMetrics();
  const ingest = await createIngest(config, { ingestDataSource: NOT_OPEN }, server.log, metrics);
  await server.register(healthRoutes, { isReady: async () => false, isAccepting: () => true, spool: ingest.spool, metrics });
  await server.register(callbackRoutes, { path: config.callbackPath, ingest: ingest.service, metrics });
  await server.listen({ port: config.port, host: config.host });
  return {
    log: (msg, err) => server.log.warn({ err: { message: (err as Error)?.message ?? String(err) } }, msg),
    async close() {
      await server.close();
      await ingest.close();
    },
  };
}
