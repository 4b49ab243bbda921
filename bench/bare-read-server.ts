/**
 * The bare reference of bench/query.bench.ts: the least a Node server on `pg` does to serve a read.
 * node:http, JSON.parse of the request, one prepared statement through a pool (the floor's, narrowed to
 * what the query shows: bench/query-reads.ts), timestamps left as PostgreSQL's text, JSON.stringify of the rows. No GraphQL,
 * no API key, no tenancy, no cursors: it is a yardstick, not a product. What it reaches of the
 * PostgreSQL floor bounds what any server on Node and `pg` can reach on the same machine.
 *
 *   DATABASE_URL=postgres://... PORT=3002 BARE_READS='{"<query text>":{"sql":"SELECT ... $1","param":"u"}}' node --import tsx bench/bare-read-server.ts
 */
import { createServer } from 'node:http';
import { Pool, types } from 'pg';

/** A read by the exact text of its GraphQL query: the SQL, and the variable that is its one parameter (if any). */
export type BareReads = Record<string, { readonly sql: string; readonly param: string | null }>;

const reads: BareReads = JSON.parse(process.env.BARE_READS ?? '{}');
const named = new Map(Object.entries(reads).map(([query, read], i) => [query, { ...read, name: `bare_${i}` }]));
for (const oid of [1082, 1114, 1184]) types.setTypeParser(oid, (text: string) => text); // date, timestamp, timestamptz

const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.BARE_POOL ?? 10) });

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    let body: { query?: string; variables?: Record<string, unknown> };
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      res.writeHead(400).end();
      return;
    }
    const read = named.get(body.query ?? '');
    if (!read) {
      res.writeHead(404).end();
      return;
    }
    const values = read.param === null ? [] : [body.variables?.[read.param]];
    pool.query({ name: read.name, text: read.sql, values }).then(
      (r) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: { rows: r.rows } })),
      (err: Error) => {
        process.stderr.write(`${err.message}\n`);
        res.writeHead(500).end();
      },
    );
  });
});

server.listen(Number(process.env.PORT ?? 3002), '127.0.0.1', () => process.stdout.write('listening\n'));
process.on('SIGTERM', () => server.close(() => pool.end().then(() => process.exit(0))));
