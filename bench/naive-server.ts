/**
 * The naive baseline of bench/ingest.bench.ts: what a callback receiver looks like when written in an
 * afternoon. node:http, JSON.parse, one INSERT per request into the same `call_events` table calltrail
 * writes (same partitions, same indexes, duplicates skipped by the same constraint), no projection, no
 * validation beyond JSON, no spool, answer 200 once the INSERT returns. It is a yardstick, not a product:
 * it folds nothing into calls, keeps nothing it cannot parse and loses whatever arrives while PostgreSQL is down.
 *
 *   DATABASE_URL=postgres://... PORT=3001 node --import tsx bench/naive-server.ts
 *   NAIVE_POOL=20: connections in its pool (default 50, one per bench client: the fastest setting measured here).
 */
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { Pool } from 'pg';

const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.NAIVE_POOL ?? 50) });
const INSERT = `INSERT INTO call_events (sdk_app_id, call_id, room_id, user_id, role, raw_event, event_type, call_type,
    media_type, total_num, call_result, event_time, command, body, dedupe_key)
  VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9, $10, to_timestamp($11), $12, $13, $14)
  ON CONFLICT DO NOTHING`;
const ok = JSON.stringify({ ErrorCode: 0, ErrorInfo: '' });

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const raw = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', 'http://x');
    let b: Record<string, string | number>;
    try {
      b = JSON.parse(raw.toString('utf8'));
    } catch {
      res.writeHead(400).end();
      return;
    }
    const event = String(b.Event || b.CallResult || 'unknown');
    pool
      .query(INSERT, [
        url.searchParams.get('sdkappid'), b.CallId, b.RoomId, b.UserId, b.Role, event, b.CallType, b.MediaType,
        b.TotalNum, b.CallResult, b.EventTime, url.searchParams.get('command'), raw.toString('utf8'),
        createHash('sha256').update(raw).digest('hex'),
      ])
      .then(
        () => res.writeHead(200, { 'content-type': 'application/json' }).end(ok),
        (err: Error) => {
          process.stderr.write(`${err.message}\n`);
          res.writeHead(500).end();
        },
      );
  });
});

server.listen(Number(process.env.PORT ?? 3001), '127.0.0.1', () => process.stdout.write('listening\n'));
process.on('SIGTERM', () => server.close(() => pool.end().then(() => process.exit(0))));
