import type { FastifyInstance } from 'fastify';
import type { ReplicaStatus } from '../db/read-replica';
import type { EventSpool } from '../ingest/event-spool';
import type { Metrics } from './metrics';

export interface HealthOptions {
  /** True when the database answers and migrations are applied. */
  readonly isReady: () => Promise<boolean>;
  /** False once shutdown has begun. */
  readonly isAccepting: () => boolean;
  /** The outage spool, when on: while it has room, callbacks are still accepted with the database down. */
  readonly spool: Pick<EventSpool, 'stats' | 'hasRoom'> | null;
  readonly metrics: Metrics;
  /**
   * The read replica's state, when `DATABASE_READ_URL` is set: shown in `/readyz`, never part of its
   * answer (ingest, which readiness is about, does not use the replica; docs/scaling.md, "Read replicas").
   */
  readonly replica?: (() => Promise<ReplicaStatus>) | null;
}

/**
 * `/healthz` (process alive, no database), `/readyz` (ready to take callbacks: the database answers
 * with migrations applied, or the spool keeps them meanwhile; its depth, and the read replica's state,
 * are in the JSON), `/metrics`.
 */
export async function healthRoutes(app: FastifyInstance, opts: HealthOptions) {
  app.get('/healthz', async () => ({ status: 'ok' }));
  const readiness = async () => {
    if (!opts.isAccepting()) return { code: 503, database: false, body: { status: 'stopping' } };
    const database = await opts.isReady();
    const stats = opts.spool?.stats();
    const spool = stats && {
      records: stats.records,
      bytes: stats.bytes,
      oldestAgeSeconds: stats.oldestAppendedAt === null ? 0 : (Date.now() - stats.oldestAppendedAt) / 1000,
      corruptSegments: stats.corruptSegments,
    };
    const spooling = opts.spool?.hasRoom() ?? false;
    const status = database ? 'ready' : spooling ? 'spooling: database unavailable, callbacks kept in the spool' : spool ? 'database unavailable and the spool full' : 'database unavailable or migrations pending';
    return { code: database || spooling ? 200 : 503, database, body: { status, database, ...(spool && { spool }) } };
  };
  opts.metrics.readiness(async () => {
    const { code, database } = await readiness();
    return { ready: code === 200, database };
  });
  app.get('/readyz', async (_req, reply) => {
    const [{ code, body }, replica] = await Promise.all([readiness(), opts.replica?.()]);
    return reply.code(code).send(replica ? { ...body, replica } : body);
  });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', opts.metrics.registry.contentType);
    return opts.metrics.registry.metrics();
  });
}
