/**
 * The live fan-out at scale, on one calltrail process: 1,000 callbacks/s while many subscriptions
 * receive them. Starts a PostgreSQL of its own and calltrail as a child process (bench/harness.ts),
 * creates a key scoped to app 1400000001, opens SUBS subscriptions on CONNS connections from a
 * subscriber process of its own (bench/live-scale.subscribers.ts; ALL of them take every event, the
 * others are filtered on one user each), then posts RATE distinct callbacks per second for DURATION
 * seconds (open loop, 2 s client timeout). Callback i is user `<prefix><i mod (SUBS - ALL)>`.
 *
 * Reports per scenario: callbacks answered and their answer time (ingest p99), delivery latency over
 * every delivery (callback sent → message parsed by the subscriber process), per subscription whether
 * it got exactly its events (count and sum of positions against the database; the subscriber process
 * checks that each subscription's positions increase: a duplicate or a reordering is a violation),
 * connections the server closed (4290 …, resumed from the last position received), calltrail's CPU
 * time, peak RSS and event-loop delay, and the load average of the machine.
 *
 *   npx tsx bench/live-scale.bench.ts                 # scenarios a and b
 *   SCENARIOS=b DURATION=10 npx tsx bench/live-scale.bench.ts
 *
 * Scenarios: a = 10,000 subscriptions on 20 connections, 10 taking every event (11,000 deliveries/s);
 * b = 100 subscriptions on 10 connections, all taking every event (100,000 deliveries/s); c = b with
 * a different selection for each subscription (no two share an execution); none = no subscription
 * (the ingest baseline). SCENARIOS=none,a,b,c runs them all.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { BenchApp, BenchPostgres, REPO, Scratch, createDatabase, fmt, printTable, serverVersion, sleep, sql, treeVersion, waitFor } from './harness';
import { RssSampler, SDKAPPID, createScopedKey, loadAverage, loadCallback, loopDelayCell, mb, metricValue, ms, niceSubscribers, num, openLoopSend, procMemKb, scrapeMetrics, senderAgent, summarise } from './bulkhead-support';
import { run } from './support';

const SCENARIOS: Record<string, { subs: number; all: number; conns: number; distinct?: boolean }> = {
  none: { subs: 0, all: 0, conns: 1 },
  a: { subs: 10_000, all: 10, conns: 20 },
  b: { subs: 100, all: 100, conns: 10 },
  c: { subs: 100, all: 100, conns: 10, distinct: true },
};
const RATE = num('RATE', 1000);
const DURATION = num('DURATION', 20);
const TIMEOUT_MS = num('CALLBACK_TIMEOUT_MS', 2000);
const SETTLE = num('SETTLE', 30);
const RESUME = num('RESUME', 20);

interface Final {
  counts: number[];
  sums: number[];
  violations: number[];
  closes: { conn: number; code: number; reason: string; at: number }[];
  other: [string, number][];
  latency: { n: number; p50: number; p99: number; max: number };
  cpuSeconds: number;
  wallSeconds: number;
}

/** utime + stime of a process in seconds (Linux /proc; clock ticks of 100 Hz). */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

function startSubscribers(scratch: Scratch, config: object) {
  const child: ChildProcess = fork(join(__dirname, 'live-scale.subscribers.ts'), [], {
    cwd: REPO,
    execArgv: ['--import', 'tsx'],
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LIVE_SCALE_CONFIG: JSON.stringify(config) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    detached: true,
  });
  scratch.registerGroup(child.pid!);
  niceSubscribers(child.pid!);
  const kill = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  };
  scratch.onCleanup(async () => kill(), kill);
  const waiters = new Map<string, (m: unknown) => void>();
  child.on('message', (m: { type: string }) => {
    const w = waiters.get(m.type);
    waiters.delete(m.type);
    w?.(m);
  });
  const ask = <T>(type: string, extra: object = {}, timeoutMs = 30_000) =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`subscriber process: no ${type} within ${timeoutMs} ms`)), timeoutMs);
      waiters.set(type, (m) => {
        clearTimeout(timer);
        resolve(m as T);
      });
      if (type !== 'ready') child.send({ type, ...extra });
    });
  return { child, ask };
}

async function scenario(scratch: Scratch, pg: BenchPostgres, name: string) {
  const { subs, all, conns, distinct = false } = SCENARIOS[name];
  const run = `${name}${Date.now().toString(36)}`;
  const url = await createDatabase(pg.adminUrl, `calltrail_live_scale_${name}`);
  const app = await BenchApp.start(scratch, { databaseUrl: url, env: { LIVE_MAX_SUBSCRIPTIONS: String(Math.max(20, Math.ceil(subs / conns))) } });
  await app.waitReady();
  const base = app.baseUrl;
  const key = await createScopedKey(url, `bench-live-scale-${name}`, [SDKAPPID]);
  const total = Math.round(RATE * DURATION);
  const prefix = `ls-${run}`;
  const userPrefix = `lsu-${run}-`;
  const users = Math.max(1, subs - all);
  const agent = senderAgent(TIMEOUT_MS, 64);
  const rss = new RssSampler(() => app.pid);
  try {
    // Warm-up (nobody subscribed yet): the first callbacks of a process are slow whatever the fan-out.
    await openLoopSend({ agent, base, rate: 200, durationS: 2, timeoutMs: TIMEOUT_MS, make: (i) => loadCallback(`warm-${run}`, i, 'warm', 1_704_000_000 + i) });

    const opened = performance.now();
    const sub = startSubscribers(scratch, { url: `${base.replace(/^http/, 'ws')}/graphql`, key, subs, all, conns, total, userPrefix, prefix, resume: RESUME, distinct });
    await sub.ask('ready', {}, 60_000);
    let open = 0;
    await waitFor(async () => (open = metricValue(await scrapeMetrics(base), 'calltrail_subscriptions')) >= subs, 120_000, 250);
    const openS = (performance.now() - opened) / 1000;
    const groups = metricValue(await scrapeMetrics(base), 'calltrail_live_groups'); // NaN before shared execution
    await sleep(1000);
    const idleRss = procMemKb(app.pid!).rss;

    await scrapeMetrics(base, 10_000); // resets the event-loop delay histogram
    rss.reset();
    const la0 = loadAverage();
    const cpu0 = cpuSeconds(app.pid!);
    const { sent, sendSpanMs } = await openLoopSend({ agent, base, rate: RATE, durationS: DURATION, timeoutMs: TIMEOUT_MS, make: (i) => loadCallback(prefix, i, `${userPrefix}${i % users}`, 1_704_695_566 + i) });
    const cpuLoad = cpuSeconds(app.pid!) - cpu0;
    const la1 = loadAverage();
    const atEnd = await scrapeMetrics(base, 10_000);
    const s = summarise(sent, sendSpanMs);

    // Settle: until the deliveries stop moving (bounded).
    const settleStart = performance.now();
    let last = -1;
    let stable = 0;
    while (stable < 3 && performance.now() - settleStart < SETTLE * 1000) {
      const st = await sub.ask<{ delivered: number }>('stats', {}, 10_000).catch(() => ({ delivered: -1 }));
      stable = st.delivered === last ? stable + 1 : 0;
      last = st.delivered;
      await sleep(500);
    }
    const settleS = (performance.now() - settleStart) / 1000;
    const cpuAll = cpuSeconds(app.pid!) - cpu0;

    // What each subscription should have had: count and sum of positions.
    const rows = await sql<{ user_id: string; n: number; s: string }>(
      url,
      `SELECT user_id, count(*)::int AS n, sum(position)::text AS s FROM call_events WHERE sdk_app_id = $1 AND call_id LIKE $2 GROUP BY user_id`,
      [SDKAPPID, `${prefix}-%`],
    );
    const byUser = new Map(rows.map((r) => [r.user_id, { n: r.n, s: Number(r.s) }]));
    const committed = rows.reduce((a, r) => a + r.n, 0);
    const committedSum = rows.reduce((a, r) => a + Number(r.s), 0);
    const fin = await sub.ask<Final>('final', { sentWall: sent.map((x) => x.sentWall) }, 60_000);
    let exact = 0;
    let lost = 0;
    let duplicated = 0;
    let expectedDeliveries = 0;
    for (let k = 0; k < subs; k++) {
      const want = k < all ? { n: committed, s: committedSum } : (byUser.get(`${userPrefix}${k - all}`) ?? { n: 0, s: 0 });
      expectedDeliveries += want.n;
      if (fin.counts[k] === want.n && fin.sums[k] === want.s && fin.violations[k] === 0) exact++;
      lost += Math.max(0, want.n - fin.counts[k]);
      duplicated += fin.violations[k];
    }
    const deliveries = fin.counts.reduce((a, b) => a + b, 0) + duplicated;
    const codes = new Map<number, number>();
    for (const c of fin.closes) codes.set(c.code, (codes.get(c.code) ?? 0) + 1);
    return {
      name,
      subs,
      all,
      conns,
      openS,
      open,
      groups,
      idleRss,
      la0,
      la1,
      s,
      sendSpanMs,
      settleS,
      cpuLoad,
      cpuAll,
      committed,
      expectedDeliveries,
      deliveries,
      exact,
      lost,
      duplicated,
      fin,
      closes: fin.closes.length ? `${fin.closes.length} (${[...codes].map(([c, n]) => `${c}: ${n}`).join(', ')}), e.g. "${fin.closes[0].reason}"` : '0',
      loop: loopDelayCell(atEnd),
      peakRss: rss.peakKb,
    };
  } finally {
    rss.stop();
    await agent.close().catch(() => undefined);
    await app.stop();
  }
}

async function main() {
  const scratch = new Scratch('live-scale');
  try {
    console.log(`live-scale bench: tree ${treeVersion()}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.versions.node}, load average ${loadAverage()} (1/5/15 min)`);
    console.log(`${RATE} callbacks/s for ${DURATION} s, ${TIMEOUT_MS / 1000} s client timeout`);
    const pg = await BenchPostgres.start(scratch);
    console.log(`PostgreSQL ${await serverVersion(pg.adminUrl)} (own cluster, port ${pg.port})`);
    for (const name of (process.env.SCENARIOS ?? 'a,b').split(',')) {
      const r = await scenario(scratch, pg, name.trim());
      console.log(`\nscenario ${r.name}: ${fmt(r.subs)} subscriptions (${fmt(r.all)} to every event) on ${r.conns} connections, ${fmt(r.open)} open in ${r.openS.toFixed(1)} s (${fmt(r.groups)} groups); load average ${r.la0} → ${r.la1}`);
      printTable(
        ['callbacks 200 / sent', 'answer p50 / p99 / max', 'delivery p50 / p99 / max', 'deliveries / expected', 'subscriptions exact', 'lost', 'duplicated', 'closed by server', 'calltrail CPU (load / +settle)', 'peak RSS (idle)', 'event-loop delay p99 / max'],
        [
          [
            `${fmt(r.s.ok)} / ${fmt(r.s.sent)}`,
            `${ms(r.s.p50)} / ${ms(r.s.p99)} / ${ms(r.s.max)}`,
            `${ms(r.fin.latency.p50)} / ${ms(r.fin.latency.p99)} / ${ms(r.fin.latency.max)}`,
            `${fmt(r.deliveries)} / ${fmt(r.expectedDeliveries)}`,
            `${fmt(r.exact)} of ${fmt(r.subs)}`,
            fmt(r.lost),
            fmt(r.duplicated),
            r.closes,
            `${r.cpuLoad.toFixed(1)} s / ${r.cpuAll.toFixed(1)} s`,
            `${mb(r.peakRss)} (${mb(r.idleRss)})`,
            r.loop,
          ],
        ],
      );
      console.log(
        `sending took ${(r.sendSpanMs / 1000).toFixed(1)} s, settled in ${r.settleS.toFixed(1)} s; rows committed ${fmt(r.committed)}; subscriber process CPU ${r.fin.cpuSeconds.toFixed(1)} s over ${r.fin.wallSeconds.toFixed(1)} s` +
          (r.fin.other.length ? `; other messages: ${r.fin.other.map(([k, n]) => `${n} × ${k}`).join('; ')}` : ''),
      );
    }
    console.log(`\nload average at the end ${loadAverage()}`);
  } finally {
    await scratch.cleanup();
  }
}

run(main);
