/** The main reads of bench/query.bench.ts and bench/size.bench.ts: GraphQL, the same SQL for pgbench, and the load loop. */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request, type Agent } from 'undici';
import { percentile, type BenchApp, type Scratch } from './harness';
import { SEED_APPS, type SeedInfo } from './seed';

/** Every read is of the first seeded app, with API keys scoped to it. */
export const APP = SEED_APPS[0];

export interface Read {
  readonly name: string;
  readonly label: string;
  readonly clients?: number;
  readonly query: string;
  readonly variables: (rand: Choices) => Record<string, unknown>;
  /** The same read in SQL for pgbench (`:u` a user number, `:c` a call number), or null when none applies. */
  readonly sql: string | null;
  /**
   * The read for bench/bare-read-server.ts: the floor's statement narrowed to the columns the query
   * shows and its keyset (what calltrail selects), `$1` the one variable named by `param`. The
   * narrowest statement is the most a bare server can make of the read: its rate bounds any server's.
   */
  readonly bare?: { readonly sql: string; readonly param: string | null };
}

/** Random choices shared by both sides: the same distributions of users and calls (pgbench's script below draws them alike). */
export class Choices {
  constructor(private readonly info: SeedInfo) {}
  user(): number {
    return Math.floor(this.info.users * Math.random() ** 2);
  }
  call(): number {
    return 2 * Math.floor((Math.random() * this.info.calls) / 2); // even numbers are calls of APP
  }
}

const CALL_FIELDS = 'callId status result mediaType callType startedAt endedAt talkSeconds';
/** The columns of CALL_FIELDS, for the bare server's statements. */
const BARE_CALL_COLUMNS = 'c.call_id, c.status, c.result, c.media_type, c.call_type, c.started_at, c.ended_at, c.talk_seconds';

export function reads(info: SeedInfo, page50Cursor: string, clients: number): Read[] {
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
      bare: {
        sql: `SELECT p.user_id, p.role, p.outcome, p.answered_at, p.started_at AS p_started_at, p.call_ref, ${BARE_CALL_COLUMNS}
          FROM call_participants p JOIN calls c ON c.id = p.call_ref WHERE p.sdk_app_id = '${APP}' AND p.user_id = $1 ORDER BY p.started_at DESC, p.call_ref DESC LIMIT 20`,
        param: 'u',
      },
    },
    {
      name: 'count',
      label: "the number of a user's participations (totalCount only)",
      query: `query($u: String!) { participants(filter: { userId: $u }) { totalCount } }`,
      variables: (r) => ({ u: `u${r.user()}` }),
      sql: `SELECT count(*) FROM call_participants p WHERE p.sdk_app_id = '${APP}' AND p.user_id = 'u' || :u;`,
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
      bare: { sql: `SELECT c.id, ${BARE_CALL_COLUMNS}, c.caller_id FROM calls c WHERE sdk_app_id = '${APP}' AND media_type = 'VIDEO' ORDER BY started_at DESC, id DESC LIMIT 50`, param: null },
    },
    {
      name: 'board',
      label: "an app's newest 50 calls with their participants (a console's board)",
      query: `{ calls(first: 50) { edges { cursor node { ${CALL_FIELDS} callerId participants { userId role outcome } } } } }`,
      variables: () => ({}),
      sql: [
        `SELECT * FROM calls WHERE sdk_app_id = '${APP}' ORDER BY started_at DESC, id DESC LIMIT 50;`,
        `SELECT p.* FROM call_participants p WHERE p.call_ref IN (SELECT id FROM calls WHERE sdk_app_id = '${APP}' ORDER BY started_at DESC, id DESC LIMIT 50);`,
      ].join('\n'),
    },
    {
      name: 'historywho',
      label: "a user's 20 newest participations with their call and who was in it",
      query: `query($u: String!) { participants(filter: { userId: $u }, first: 20) { edges { cursor node { role outcome call { ${CALL_FIELDS} participants { userId role outcome } } } } } }`,
      variables: (r) => ({ u: `u${r.user()}` }),
      sql: [
        `SELECT p.*, c.* FROM call_participants p JOIN calls c ON c.id = p.call_ref WHERE p.sdk_app_id = '${APP}' AND p.user_id = 'u' || :u ORDER BY p.started_at DESC, p.call_ref DESC LIMIT 20;`,
        `SELECT o.* FROM call_participants o WHERE o.call_ref IN (SELECT p.call_ref FROM call_participants p WHERE p.sdk_app_id = '${APP}' AND p.user_id = 'u' || :u ORDER BY p.started_at DESC, p.call_ref DESC LIMIT 20);`,
      ].join('\n'),
    },
    {
      name: 'page50',
      label: 'page 50 of calls by cursor (20 a page)',
      query: `query($a: String) { calls(first: 20, after: $a) { edges { cursor node { ${CALL_FIELDS} } } pageInfo { hasNextPage endCursor } } }`,
      variables: () => ({ a: page50Cursor }),
      sql: null,
    },
    { name: 'stats', label: '30-day daily stats, 1 client', clients: 1, query: stats, variables: () => ({}), sql: statsSql },
    { name: 'stats10', label: `30-day daily stats, ${clients} clients`, query: stats, variables: () => ({}), sql: statsSql },
    { name: 'statsp95', label: '30-day daily stats with p95, 1 client', clients: 1, query: statsP95, variables: () => ({}), sql: statsP95Sql },
    { name: 'statsp95x10', label: `30-day daily stats with p95, ${clients} clients`, query: statsP95, variables: () => ({}), sql: statsP95Sql },
  ];
}

/** utime + stime, in ms, from the text of a /proc/<pid>/stat (clock ticks of 100 Hz). */
function statCpuMs(stat: string): number {
  const fields = stat.replace(/^.*\) /, '').split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/** utime + stime of a process, in ms. */
export function cpuMs(pid: number): number {
  return statCpuMs(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

/**
 * utime + stime of every `postgres` process on this machine, in ms: PostgreSQL's own CPU when it runs
 * here, as in these benches (backends that exit in between drop out; calltrail's pool keeps its own).
 */
export function postgresCpuMs(): number {
  let total = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.includes(' (postgres) ')) total += statCpuMs(stat);
    } catch {
      // the process exited while we read
    }
  }
  return total;
}

export async function post(agent: Agent, endpoint: string, key: string, query: string, variables: Record<string, unknown>): Promise<unknown> {
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

export async function load(app: Pick<BenchApp, 'baseUrl' | 'pid'>, agent: Agent, keys: string[], read: Read, choices: Choices, opts: { clients: number; seconds: number }) {
  const endpoint = `${app.baseUrl}/graphql`;
  const clients = read.clients ?? opts.clients;
  const latencies: number[] = [];
  let errors = 0;
  let firstError = '';
  const cpu0 = cpuMs(app.pid!);
  const pg0 = postgresCpuMs();
  const t0 = performance.now();
  const until = t0 + opts.seconds * 1000;
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
  const pg = postgresCpuMs() - pg0;
  const n = Math.max(1, latencies.length);
  return { rps: latencies.length / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), cpuPerRequest: cpu / n, pgCpuPerRequest: pg / n, errors, firstError };
}

export function pgbench(scratch: Scratch, url: string, read: Read, info: SeedInfo, opts: { clients: number; seconds: number }): number | null {
  if (!read.sql) return null;
  const file = join(scratch.dir, `${read.name}.sql`);
  // The same distributions as Choices: users skewed to the low (busiest) numbers as floor(users * r²), calls uniform.
  const user = `\\set r random(0, 999999)\n\\set u (${info.users} * :r * :r) / 1000000000000\n`;
  writeFileSync(file, `${user}\\set c 2 * random(0, ${Math.floor(info.calls / 2) - 1})\n${read.sql}\n`);
  const clients = read.clients ?? opts.clients;
  const out = execFileSync('pgbench', ['-n', '-c', String(clients), '-j', String(Math.min(2, clients)), '-T', String(opts.seconds), '-f', file, url], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const tps = /tps = ([\d.]+)/.exec(out);
  return tps ? Number(tps[1]) : null;
}


/** The cursor that opens page 50 of an app's calls (20 a page), walked to as a client would: the `page50` read starts there. */
export async function page50Cursor(app: BenchApp, agent: Agent, key: string): Promise<string> {
  const page = `query($a: String) { calls(first: 20, after: $a) { pageInfo { endCursor } } }`;
  let cursor: string | null = null;
  for (let i = 0; i < 49; i++) {
    const r = (await post(agent, `${app.baseUrl}/graphql`, key, page, { a: cursor })) as { data: { calls: { pageInfo: { endCursor: string } } } };
    cursor = r.data.calls.pageInfo.endCursor;
  }
  return cursor!;
}
