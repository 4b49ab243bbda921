/**
 * Query latency over GraphQL HTTP on a large dataset: 100 000 calls over 10 apps (2 participants and
 * 3 events each, generated in SQL), then each query N times in a row through the real app. Baseline:
 * `{ __typename }` (HTTP + Apollo + auth, no data), measured in the same run.
 *
 *   npm run bench:query
 *   DATABASE_URL=postgres://... BENCH_CALLS=200000 npm run bench:query
 */
import 'reflect-metadata';
import { ApiKeyRepository } from '../src/api-keys/api-key.repository';
import { loadConfig } from '../src/config';
import { createApp } from '../src/http/app';
import { freshDatabase, run, withPostgres } from './support';

const CALLS = Number(process.env.BENCH_CALLS ?? 100000);
const RUNS = Number(process.env.BENCH_RUNS ?? 50);

const QUERIES: [label: string, query: string][] = [
  ['baseline: { __typename }', '{ __typename }'],
  ["an app's newest 50 calls", '{ calls(first: 50) { edges { node { callId status startedAt talkSeconds } } } }'],
  ['50 calls of a user', '{ calls(filter: { userId: "u42" }, first: 50) { edges { node { callId status } } } }'],
  ["a user's history (50)", '{ participants(filter: { userId: "v42" }, first: 50) { edges { node { outcome call { callId } } } } }'],
  ['100 calls + participants + events', '{ calls(first: 100) { edges { node { callId participants { userId outcome } events { event eventTime } } } } }'],
  ['totalCount of an app', '{ calls { totalCount } }'],
  ['callStats by day, 1 app', '{ callStats(interval: DAY, timeZone: "Asia/Shanghai") { bucket calls answered answerRate p95TalkSeconds } }'],
];

async function seed(ds: import('typeorm').DataSource) {
  await ds.query(`
    INSERT INTO calls (sdk_app_id, call_id, call_type, media_type, status, result, caller_id, started_at, accepted_at, ended_at,
      ring_seconds, talk_seconds, participant_count, last_event_at, last_position)
    SELECT (1400000001 + i % 10)::text, 'c' || i, 'SINGLE', CASE WHEN i % 3 = 0 THEN 'VIDEO' ELSE 'AUDIO' END, 'ENDED',
      CASE WHEN i % 4 = 0 THEN 'NOT_ANSWER' ELSE 'NORMAL_END' END, 'u' || (i % 5000),
      timestamptz '2024-01-01' + i * interval '1 minute', CASE WHEN i % 4 = 0 THEN NULL ELSE timestamptz '2024-01-01' + i * interval '1 minute' + interval '5 s' END,
      timestamptz '2024-01-01' + i * interval '1 minute' + interval '65 s', 5, CASE WHEN i % 4 = 0 THEN 0 ELSE 60 + i % 600 END, 2,
      timestamptz '2024-01-01' + i * interval '1 minute' + interval '65 s', i
    FROM generate_series(1, $1::int) i`, [CALLS]);
  await ds.query(`
    INSERT INTO call_participants (call_ref, sdk_app_id, call_id, user_id, role, outcome, call_type, media_type, started_at)
    SELECT c.id, c.sdk_app_id, c.call_id, u.user_id, u.role, 'ENDED', c.call_type, c.media_type, c.started_at
    FROM calls c CROSS JOIN LATERAL (VALUES (c.caller_id, 'CALLER'), ('v' || (c.id % 7000), 'CALLEE')) AS u(user_id, role)`);
  await ds.query(`
    INSERT INTO call_events (sdk_app_id, call_id, user_id, role, raw_event, event_type, event_time, body, dedupe_key)
    SELECT c.sdk_app_id, c.call_id, c.caller_id, 'CALLER', e, upper(e), c.started_at, '{}'::jsonb, c.call_id || e
    FROM calls c CROSS JOIN unnest(ARRAY['start_call', 'call_accepted', 'call_end']) AS e`);
  await ds.query('ANALYZE');
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

run(() =>
  withPostgres(async (adminUrl, where) => {
    const { url, dataSource, drop } = await freshDatabase(adminUrl, `calltrail_bench_query_${process.pid}`);
    const seeded = performance.now();
    await seed(dataSource);
    console.log(`query bench: ${CALLS} calls over 10 apps, ${RUNS} runs each, key scoped to one app, ${where} (seeded in ${((performance.now() - seeded) / 1000).toFixed(1)} s)`);
    const { key } = await new ApiKeyRepository(dataSource).create('bench', ['1400000001']);
    const app = await createApp(loadConfig({ LOG_LEVEL: 'silent', LIVE_POLL_MS: '60000', SPOOL: 'off' }), { db: { dataSource, ingestDataSource: dataSource, url, isReady: async () => true } });
    await app.server.listen({ port: 0, host: '127.0.0.1' });
    const endpoint = `http://127.0.0.1:${(app.server.server.address() as { port: number }).port}/graphql`;
    let baseline = 0;
    for (const [label, query] of QUERIES) {
      const times: number[] = [];
      for (let i = 0; i < RUNS + 3; i++) {
        const started = performance.now();
        const res = await fetch(endpoint, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify({ query }) });
        const body = (await res.json()) as { errors?: unknown };
        if (body.errors) throw new Error(`${label}: ${JSON.stringify(body.errors)}`);
        if (i >= 3) times.push(performance.now() - started); // the first runs warm caches
      }
      const m = median(times);
      if (baseline === 0) baseline = m;
      console.log(`${label.padEnd(36)} median ${m.toFixed(2).padStart(7)} ms   ${(m / baseline).toFixed(1).padStart(5)}x baseline`);
    }
    await app.close();
    await drop();
  }),
);
