import type { FastifyInstance } from 'fastify';
import type { Metrics } from './metrics';

export interface HealthOptions {
  /** True when the database answers and migrations are applied. */
  readonly isReady: () => Promise<boolean>;
  /** False once shutdown has begun. */
  readonly isAccepting: () => boolean;
  readonly metrics: Metrics;
}

/** `/healthz` (process alive, no database), `/readyz` (database and migrations), `/metrics`. */
export async function healthRoutes(app: FastifyInstance, opts: HealthOptions) {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    if (!opts.isAccepting()) return reply.code(503).send({ status: 'stopping' });
    const ready = await opts.isReady();
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'database unavailable or migrations pending' });
  });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', opts.metrics.registry.contentType);
    return opts.metrics.registry.metrics();
  });
}
