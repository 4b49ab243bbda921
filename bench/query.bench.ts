/**
 * The main reads at production size, from outside, next to what PostgreSQL itself serves for the same
 * SQL. A seeded database (bench/seed.ts: 1M calls by default, made once and kept) is served by calltrail
 * as a child process (bench/harness.ts, NODE_ENV=production); each read runs for DURATION seconds from
 * CLIENTS concurrent clients (one API key each, scoped to one app) with random users and calls, then
 * pgbench runs the read's SQL with the same concurrency and the same random choices. Reported per read:
 * req/s, p50, p99, calltrail CPU per request (from /proc), the PostgreSQL floor in tps, and the ratio.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench:query
 *   BENCH_CALLS=100000 DURATION=5 CLIENTS=10 ONLY=history,stats npm run bench:query
 *
 * Reads: typename, history, call, video, page50, stats, stats10 (daily figures a rollup can answer),
 * statsp95, statsp95x10 (the same with a 95th percentile, which only raw calls can give). The floor of a
 * stats read is the raw scan of `calls` for the same aggregates.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { BenchApp, Scratch, fmt, percentile, printTable, serverVersion, sql, treeVersion } from './harness';
import { createScopedKey, loadAverage, num } from './bulkhead-support';
import { SEED_APPS, seedDatabase, type SeedInfo } from './seed';
import { run } from './support';

const CALLS = num('BENCH_CALLS', 1_000_000);
const DURATION = num('DURATION', 10);
const CLIENTS = num('CLIENTS', 10);
const APP = SEED_APPS[0];

interface Read {
  readonly name: string;
  readonly label: string;
  readonly clients?: number;
  readonly query: string;
  readonly variables: (rand: Choices) => Record<string, unknown>;
  /** The same read in SQL for pgbench (`:u` a user number, `:c` a call number), or null when none applies. */
  readonly sql: string | null;
}

/** Random choices shared by both sides: the same distributions of users and calls. */
class Choices {
  constructor(private readonly info: SeedInfo) {}
  user(): number {
    return Math.floor(this.info.users * Math.random() ** 2);
  }
  call(): number {
    return 2 * Math.floor((Math.random() * this.info.calls) / 2); // even numbers are calls of APP
  }
}

const CALL_FIELDS = 'callId status result mediaType callType startedAt endedAt talkSeconds';

function reads(info: SeedInfo, page50Cursor: string): Read[] {
  const from = new Date(info.from * 1000).toISOString();
  const to = new Date(info.to * 1000).toISOString();
  // A dashboard's daily figures (the hourly rollup can answer them), and the same with a percentile (raw calls only).
  const stats = `{ callStats(interval: DAY, filter: { startedAt: { from: "${from}", to: "${to}" } }) { bucket calls answered answerRate missed totalTalkSeconds avgTalkSeconds } }`;
  const statsP95 = `{ callStats(interval: DAY, filter: { startedAt: { from: "${from}", to: "${to}" } }) { bucket calls answered answerRate avgTalkSeconds p95TalkSeconds } }`;
  const rawStats = (percentile: string) => `SELECT date_trunc('day', started_at) AS bucket, count(*), count(accepted_at), avg(talk_seconds) FILTER (WHERE accepted_at IS NOT NULL)${percentile}
    FROM calls WHERE sdk_app_id = '${APP}' AND started_at >= '${from}' AND started_at < '${to}' GROUP BY 1 ORDER BY 1;`;
  const statsSql = rawStats(`, count(*) FILTER (WHERE result = 'NOT_ANSWER'), sum(talk_seconds) FILTER (WHERE accepted_at IS NOT NULL)`);
  const statsP95Sql = rawStats(`, percentile_cont(0.95) WITHIN GROUP (ORDER BY talk_seconds) FILTER (WHERE accepted_at IS NOT NULL)`);
  return [
    { name: 'typename', label: '`{ __typename }` with a key', query: '{ __typename }', variables: () => ({}), sql: null },
    {
      name: 'history',
      label: "a user's 20 newest participations with their call",
      query: `query($u: String!) { participants(filter: { userId: $u }, first: 20) { edges { cursor node { userId role outcome answeredAt call { ${CALL_FIELDS} } } } } }`,
      variables: (r) => ({ u: `u${r.user()}` }),
      sql: `SELECT p.*, c.* FROM call_participants p JOIN calls c ON c.id = p.call_ref WHERE p.sdk_app_id = '${APP}' AND p.user_id = 'u' || :u ORDER BY p.started_at DESC, p.call_ref DESC LIMIT 20;`,
    },
    {
      name: 'call',
      label: 'one call with participants and events',
      query: `query($c: String!) { call(callId: $c) { ${CALL_FIELDS} participants { userId role outcome answeredAt } events { event userId eventTime } } }`,
      variables: (r) => ({ c: `seed-${r.call()}` }),
      sql: [
        `SELECT * FROM calls WHERE sdk_app_id = '${APP}' AND call_id = 'seed-' || :c;`,
        `SELECT p.* FROM call_participants p JOIN calls c ON c.id = p.call_ref WHERE c.sdk_app_id = '${APP}' AND c.call_id = 'seed-' || :c;`,
        `SELECT * FROM call_events WHERE sdk_app_id = '${APP}' AND call_id = 'seed-' || :c ORDER BY position;`,
      ].join('\n'),
    },
    {
      name: 'video',
      label: "an app's newest 50 video calls",
      query: `{ calls(filter: { mediaType: VIDEO }, first: 50) { edges { cursor node { ${CALL_FIELDS} callerId } } } }`,
      variables: () => ({}),
      sql: `SELECT * FROM calls WHERE sdk_app_id = '${APP}' AND media_type = 'VIDEO' ORDER BY started_at DESC, id DESC LIMIT 50;`,
    },
    {
      name: 'page50',
      label: 'page 50 of calls by cursor (20 a page)',
      query: `query($a: String) { calls(first: 20, after: $a) { edges { cursor node { ${CALL_FIELDS} } } pageInfo { hasNextPage endCursor } } }`,
      variables: () => ({ a: page50Cursor }),
      sql: null,
    },
    { name: 'stats', label: '30-day daily stats, 1 client', clients: 1, query: stats, variables: () => ({}), sql: statsSql },
    { name: 'stats10', label: `30-day daily stats, ${CLIENTS} clients`, query: stats, variables: () => ({}), sql: statsSql },
    { name: 'statsp95', label: '30-day daily stats with p95, 1 client', clients: 1, query: statsP95, variables: () => ({}), sql: statsP95Sql },
    { name: 'statsp95x10', label: `30-day daily stats with p95, ${CLIENTS} clients`, query: statsP95, variables: () => ({}), sql: statsP95Sql },
  ];
}

/** utime + stime of a process, in ms. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

async function post(agent: Agent, endpoint: string, key: string, query: string, variables: Record<string, unknown>): Promise<unknown> {
  const res = await request(endpoint, {
    method: 'POST',
    dispatcher: agent,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.body.text();
  if (res.statusCode !== 200 || text.includes('"errors"')) throw new Error(`HTTP ${res.statusCode}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

async function load(app: BenchApp, agent: Agent, keys: string[], read: Read, choices: Choices) {
  const endpoint = `${app.baseUrl}/graphql`;
  const clients = read.clients ?? CLIENTS;
  const latencies: number[] = [];
  let errors = 0;
  let firstError = '';
  const cpu0 = cpuMs(app.pid!);
  const t0 = performance.now();
  const until = t0 + DURATION * 1000;
  await Promise.all(
    Array.from({ length: clients }, async (_, i) => {
      while (performance.now() < until) {
        const start = performance.now();
        try {
          await post(agent, endpoint, keys[i % keys.length], read.query, read.variables(choices));
          latencies.push(performance.now() - start);
        } catch (err) {
          errors++;
          firstError ||= String(err);
        }
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuMs(app.pid!) - cpu0;
  return { rps: latencies.length / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), cpuPerRequest: cpu / Math.max(1, latencies.length), errors, firstError };
}

function pgbench(scratch: Scratch, url: string, read: Read, info: SeedInfo): number | null {
  if (!read.sql) return null;
  const file = join(scratch.dir, `${read.name}.sql`);
  writeFileSync(file, `\\set u random(0, ${info.users - 1})\n\\set c 2 * random(0, ${Math.floor(info.calls / 2) - 1})\n${read.sql}\n`);
  const clients = read.clients ?? CLIENTS;
  const out = execFileSync('pgbench', ['-n', '-c', String(clients), '-j', String(Math.min(2, clients)), '-T', String(DURATION), '-f', file, url], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const tps = /tps = ([\d.]+)/.exec(out);
  return tps ? Number(tps[1]) : null;
}

async function main() {
  const adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) throw new Error('bench/query.bench.ts: set DATABASE_URL (the seeded database is kept on that server for the next run)');
  const scratch = new Scratch('query');
  try {
    console.log(`query bench: tree ${treeVersion()}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, load average ${loadAverage()}`);
    const info = await seedDatabase(adminUrl, CALLS);
    console.log(`PostgreSQL ${await serverVersion(adminUrl)}; ${fmt(info.calls)} calls, ${fmt(info.events)} events, ${fmt(info.users)} users, 2 apps (seeded in ${info.seconds.toFixed(0)} s)`);
    const run = Date.now().toString(36);
    const keys = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => createScopedKey(info.url, `bench-query-${run}-${i}`, [APP])));
    scratch.onCleanup(async () => {
      await sql(info.url, `DELETE FROM api_keys WHERE name LIKE $1`, [`bench-query-${run}-%`]);
    }, () => undefined);
    const app = await BenchApp.start(scratch, { databaseUrl: info.url, env: { NODE_ENV: 'production', SDKAPPIDS: SEED_APPS.join(','), LIVE_POLL_MS: '60000' } });
    await app.waitReady();
    const agent = new Agent({ connections: CLIENTS, keepAliveTimeout: 30_000 });
    const page = `query($a: String) { calls(first: 20, after: $a) { pageInfo { endCursor } } }`;
    let cursor: string | null = null;
    for (let i = 0; i < 49; i++) {
      const r = (await post(agent, `${app.baseUrl}/graphql`, keys[0], page, { a: cursor })) as { data: { calls: { pageInfo: { endCursor: string } } } };
      cursor = r.data.calls.pageInfo.endCursor;
    }
    const choices = new Choices(info);
    const only = process.env.ONLY?.split(',');
    const rows: (string | number)[][] = [];
    for (const read of reads(info, cursor!).filter((r) => !only || only.includes(r.name))) {
      await load(app, agent, keys, { ...read }, choices).catch(() => undefined); // warm-up: plans, JIT, caches
      const r = await load(app, agent, keys, read, choices);
      const floor = pgbench(scratch, info.url, read, info);
      rows.push([
        read.label,
        `${fmt(r.rps)} req/s, ${r.p50.toFixed(1)} ms, ${r.p99.toFixed(1)} ms${r.errors ? ` (${r.errors} errors: ${r.firstError.slice(0, 80)})` : ''}`,
        floor === null ? '-' : `${fmt(floor)} tps`,
        floor === null ? '-' : `${((100 * r.rps) / floor).toFixed(0)}%`,
        `${r.cpuPerRequest.toFixed(2)} ms`,
      ]);
      console.log(`  ${read.name} done`);
    }
    console.log(`\n${DURATION} s per read, ${CLIENTS} clients unless noted; load average ${loadAverage()}\n`);
    printTable(['read', 'calltrail req/s, p50, p99', 'PostgreSQL floor (same SQL, pgbench)', 'of floor', 'calltrail CPU per request'], rows);
    await agent.close();
  } finally {
    await scratch.cleanup();
  }
}

run(main);
