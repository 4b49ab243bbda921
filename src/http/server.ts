import Fastify, { type FastifyInstance } from 'fastify';
import type { Config } from '../config';
import { maskUrl } from '../domain/secrets';

/** The Fastify server of the app and of the start-up standby: the same logging and deadlines. */
export function createServer(config: Config): FastifyInstance {
  const server = Fastify({
    logger:
      config.logLevel === 'silent'
        ? false
        : {
            level: config.logLevel,
            // Callback URLs may carry `token` and `Sign`: logged masked (docs/security.md).
            serializers: { req: (req) => ({ method: req.method, url: maskUrl(req.url), remoteAddress: req.ip }) },
          },
    bodyLimit: 1024 * 1024,
    forceCloseConnections: 'idle',
    // A request must arrive whole in time; slow senders cannot hold connections open (docs/security.md).
    // Node checks request deadlines on this interval (30 s by default, too coarse for a 10 s deadline).
    // No socket inactivity timeout: it would also cut idle WebSocket subscribers.
    requestTimeout: config.httpRequestTimeoutMs,
    http: { connectionsCheckingInterval: Math.min(1000, config.httpRequestTimeoutMs) },
    keepAliveTimeout: config.httpKeepAliveTimeoutMs,
  });
  server.server.headersTimeout = Math.min(config.httpRequestTimeoutMs, 60_000);
  return server;
}
