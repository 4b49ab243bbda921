import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export interface ConsoleRouteOptions {
  /** Folder of the built console (`npm run build` writes `dist/console`). */
  readonly dir: string;
}

/** The only files served: no path from the request reaches the file system. */
const FILES: ReadonlyMap<string, string> = new Map([
  ['index.html', 'text/html; charset=utf-8'],
  ['console.js', 'text/javascript; charset=utf-8'],
  ['console.css', 'text/css; charset=utf-8'],
  ['favicon.svg', 'image/svg+xml'],
]);

/** A Host header that is a plain host name, IPv4 or bracketed IPv6 address, with an optional port. */
const PLAIN_HOST = /^(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i;

/**
 * The page loads only its own files and talks only to this server: GraphQL over HTTP (`'self'`) and
 * graphql-ws on the same host (named explicitly, for browsers where `'self'` does not cover ws:).
 */
export function consoleCsp(host: string | undefined): string {
  const sockets = host !== undefined && PLAIN_HOST.test(host) ? ` ws://${host} wss://${host}` : '';
  return [
    "default-src 'self'",
    `connect-src 'self'${sockets}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** `dist/console` of the package this file belongs to (from `src/http` under tsx, `dist/src/http` when built). */
export function defaultConsoleDir(from = __dirname): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return join(dir, 'dist', 'console');
}

/** `/console`: the admin console, static files built from `console/` (see README, Console). */
export async function consoleRoutes(app: FastifyInstance, opts: ConsoleRouteOptions) {
  const send = async (name: string, request: FastifyRequest, reply: FastifyReply) => {
    const type = FILES.get(name);
    if (type === undefined) return reply.code(404).type('text/plain; charset=utf-8').send('Not found');
    reply
      .header('content-security-policy', consoleCsp(request.headers.host))
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('cache-control', 'no-cache');
    try {
      return reply.type(type).send(await readFile(join(opts.dir, name)));
    } catch {
      const message = `The console is not built (no ${name} in ${opts.dir}): run npm run build.`;
      return reply.code(503).type('text/plain; charset=utf-8').send(message);
    }
  };
  app.get('/console', (request, reply) => send('index.html', request, reply));
  app.get('/console/', (_request, reply) => reply.redirect('/console'));
  app.get<{ Params: { file: string } }>('/console/:file', (request, reply) => send(request.params.file, request, reply));
}
