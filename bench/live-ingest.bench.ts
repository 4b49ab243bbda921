/**
 * Live fan-out against ingest: does a crowd of subscribers slow down or stop the callbacks?
 *
 * Starts a PostgreSQL of its own and calltrail as a child process (bench/harness.ts) with
 * LIVE_MAX_SUBSCRIPTIONS=100, creates an API key scoped to app 1400000001, sends callbacks at RATE for
 * WARMUP seconds (5; 0 for none) so that the load meets a warm server, opens SUBS graphql-ws
 * subscriptions over WS_CONNECTIONS connections (in a separate process,
 * bench/live-ingest.subscribers.ts): half `callEventAdded` with no filter (every event of the app),
 * half filtered on one user each. Then a Tencent-like sender posts RATE distinct callbacks per
 * second for DURATION seconds over at most HTTP_CONNECTIONS keep-alive connections (undici Agent),
 * each once with a 2 s client timeout; callback i is user `lu-<i mod SUBS/2>`, so each filtered
 * subscription has events too. When the sender is done it waits (up to SETTLE s) until the stored
 * count and the deliveries stop moving, then reports: answers, latency, rows committed (every 200
 * must be one), deliveries, subscribers closed by the server (4290 slow consumer …), delivery
 * latency (send → arrival at the probe subscribers, one per connection), peak RSS of calltrail.
 *
 * Answer times start when a request is handed to undici, so waiting for one of the HTTP_CONNECTIONS
 * connections counts: once calltrail answers slower than HTTP_CONNECTIONS / RATE s (64 ms at the
 * defaults) requests queue in the client and most time out there, never reaching calltrail; the
 * calltrail_callbacks_total row tells how many calltrail finished. SUBS=0 is the baseline.
 *
 *   npx tsx bench/live-ingest.bench.ts
 *   SUBS=10 RATE=500 npx tsx bench/live-ingest.bench.ts
 *   PER_SECOND=1 npx tsx bench/live-ingest.bench.ts             # answer times by second of the load too
 *   LIVE_QUEUE_MAX=5000 npx tsx bench/live-ingest.bench.ts     # passed to calltrail (LIVE_*, INGEST_*, DB_*, …)
 */
import { fork, type ChildProcess } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { BenchApp, BenchPostgres, REPO, Scratch, createDatabase, fmt, printTable, serverVersion, sleep, sql, treeVersion, waitFor } from './harness';
import {
  RssSampler,
  SDKAPPID,
  batchDelta,
  createScopedKey,
  loadAverage,
  loadCallback,
  mb,
  niceSubscribers,
  metricValue,
  ms,
  num,
  openLoopSend,
  procMemKb,
  scrapeMetrics,
  summarise,
  gapCell,
  handledCell,
  loopDelayCell,
  senderAgent,
  serverLatencyCell,
  timeoutsCell,
} from './bulkhead-support';

const SUBS = num('SUBS', 1000);
const WS_CONNECTIONS = Math.max(1, num('WS_CONNECTIONS', 20));
const RATE = num('RATE', 1000);
const DURATION = num('DURATION', 20);
const HTTP_CONNECTIONS = Math.max(1, num('HTTP_CONNECTIONS', 64));
const CALLBACK_TIMEOUT_MS = num('CALLBACK_TIMEOUT_MS', 2000);
const SETTLE = num('SETTLE', 30);
const WARMUP_S = num('WARMUP', 5);

interface Final {
  counts: number[];
  firstAt: number[];
  lastAt: number[];
  half: number;
  closes: { conn: number; code: number; reason: string; at: number }[];
  subErrors: [string, number][];
  latency: { n: number; probes: number; p50: number; p99: number; max: number };
  cpuSeconds: number;
  wallSeconds: number;
}

/** The subscriber process: ready once it has sent every subscribe; asked for stats and the final figures. */
class Subscribers {
  private readonly waiters = new Map<string, (m: unknown) => void>();
  /** Resolves when the process has sent every subscribe (registered before it can answer). */
  readonly ready: Promise<void>;
  private constructor(readonly child: ChildProcess) {
    this.ready = new Promise<void>((resolve) => this.waiters.set('ready', () => resolve()));
    child.on('message', (m: { type: string }) => {
      const w = this.waiters.get(m.type);
      if (w) {
        this.waiters.delete(m.type);
        w(m);
      }
    });
  }

  static start(scratch: Scratch, config: object): Subscribers {
    const child = fork(join(__dirname, 'live-ingest.subscribers.ts'), [], {
      cwd: REPO,
      execArgv: ['--import', 'tsx'],
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LIVE_SUBS_CONFIG: JSON.stringify(config) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      detached: true,
    });
    scratch.registerGroup(child.pid!);
    niceSubscribers(child.pid!);
    const subs = new Subscribers(child);
    const kill = () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    };
    scratch.onCleanup(async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await waitFor(() => child.exitCode !== null || child.signalCode !== null, 3000);
      }
      kill();
    }, kill);
    return subs;
  }

  ask<T>(type: string, extra: object = {}, timeoutMs = 30_000): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(type);
        reject(new Error(`subscriber process: no ${type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.set(type, (m) => {
        clearTimeout(timer);
        resolve(m as T);
      });
      this.child.send({ type, ...extra });
    });
  }
}

async function main() {
  const scratch = new Scratch('live-ingest');
  try {
    await bench(scratch);
  } finally {
    await scratch.cleanup();
  }
}

async function bench(scratch: Scratch) {
  const run = Date.now().toString(36);
  const perConn = Math.ceil(SUBS / WS_CONNECTIONS);
  console.log(`live-ingest bench: tree ${treeVersion()}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, load average ${loadAverage()} (1/5/15 min)`);
  const pg = await BenchPostgres.start(scratch);
  const url = await createDatabase(pg.adminUrl, 'calltrail_live_ingest');
  console.log(`PostgreSQL ${await serverVersion(pg.adminUrl)} (own cluster, port ${pg.port})`);
  const app = await BenchApp.start(scratch, {
    databaseUrl: url,
    env: { LIVE_MAX_SUBSCRIPTIONS: process.env.LIVE_MAX_SUBSCRIPTIONS ?? String(Math.max(100, perConn)) },
  });
  await app.waitReady();
  const base = app.baseUrl;
  const key = await createScopedKey(url, 'bench-live-ingest', [SDKAPPID]);
  const total = Math.round(RATE * DURATION);
  const prefix = `li-${run}`;
  const half = Math.ceil(SUBS / 2);
  const users = Math.max(1, SUBS - half);
  const userPrefix = `lu-${run}-`;

  const rss = new RssSampler(() => app.pid);
  const agent = senderAgent(CALLBACK_TIMEOUT_MS, HTTP_CONNECTIONS);
  try {
    // Warm-up: calltrail's code compiled, the pools' connections open, the partition of the events' month
    // made, before anyone subscribes (its callbacks are not counted: another prefix and other users).
    if (WARMUP_S > 0) {
      const warm = await openLoopSend({ agent, base, rate: RATE, durationS: WARMUP_S, timeoutMs: CALLBACK_TIMEOUT_MS, make: (i) => loadCallback(`warm-${run}`, i, `warm-${i % 100}`, 1_704_695_566 + i) });
      const w = summarise(warm.sent, warm.sendSpanMs);
      console.log(`warm-up: ${fmt(w.ok)} of ${fmt(w.sent)} callbacks answered 200 in ${WARMUP_S} s, answer p50 / p99 ${ms(w.p50)} / ${ms(w.p99)}`);
    }

    // Subscribers.
    const subsStarted = performance.now();
    const subs = Subscribers.start(scratch, { url: `${base.replace(/^http/, 'ws')}/graphql`, key, subs: SUBS, conns: WS_CONNECTIONS, total, userPrefix, prefix });
    const readyIn = await Promise.race([subs.ready.then(() => true), sleep(60_000).then(() => false)]);
    if (!readyIn) throw new Error('subscriber process not ready within 60 s');
    let open = 0;
    const allOpen = await waitFor(
      async () => {
        open = metricValue(await scrapeMetrics(base), 'calltrail_subscriptions');
        return open >= SUBS;
      },
      60_000,
      250,
    );
    console.log(
      `${fmt(open)} of ${fmt(SUBS)} subscriptions open on ${WS_CONNECTIONS} connections in ${((performance.now() - subsStarted) / 1000).toFixed(1)} s` +
        ` (${fmt(half)} to every event, ${fmt(SUBS - half)} filtered on one user each); calltrail RSS ${mb(procMemKb(app.pid!).rss)}` +
        (allOpen ? '' : ' — NOT all open; going on anyway'),
    );
    await sleep(1000);

    // Load.
    const before = await scrapeMetrics(base, 10_000);
    rss.reset();
    const la0 = loadAverage();
    // With PER_SECOND: calltrail's ingest transactions and event-loop delay in each second of the load.
    const seconds: string[] = [];
    let previous = before;
    const sampler = process.env.PER_SECOND
      ? setInterval(() => {
          void scrapeMetrics(base, 900).then((now) => {
            if (!now) return;
            const b = batchDelta(previous, now);
            seconds.push(`${seconds.length}s ${fmt(b.count)}×${ms(b.meanMs)} loop ${loopDelayCell(now).split(' / ')[0]}`);
            previous = now;
          });
        }, 1000)
      : null;
    const { sent, sendSpanMs } = await openLoopSend({
      agent,
      base,
      rate: RATE,
      durationS: DURATION,
      timeoutMs: CALLBACK_TIMEOUT_MS,
      make: (i) => loadCallback(prefix, i, `${userPrefix}${i % users}`, 1_704_695_566 + i),
    });
    const la1 = loadAverage();
    const s = summarise(sent, sendSpanMs);
    if (sampler) {
      clearInterval(sampler);
      console.log(perSecond(sent));
      console.log(`ingest transactions (count × mean) and event-loop delay p99 by second: ${seconds.join(', ')}`);
    }
    // Right after the load: the event-loop delay of calltrail during it (reset at each scrape).
    const atEnd = await scrapeMetrics(base, 10_000);

    // Settle: until the stored count and the deliveries stop moving (bounded).
    const stored = async () => {
      try {
        const [{ n }] = await sql<{ n: number }>(url, `SELECT count(*)::int AS n FROM call_events WHERE sdk_app_id = $1 AND call_id LIKE $2`, [SDKAPPID, `${prefix}-%`]);
        return n;
      } catch {
        return -1;
      }
    };
    const settleStart = performance.now();
    let last = '';
    let stable = 0;
    for (let i = 0; i < SETTLE * 2 + 5 && performance.now() - settleStart < SETTLE * 1000; i++) {
      const st = await subs.ask<{ delivered: number; closes: number }>('stats', {}, 10_000).catch(() => ({ delivered: -1, closes: -1 }));
      const spooled = metricValue(await scrapeMetrics(base, 2000), 'calltrail_spool_records');
      const now = `${await stored()}/${st.delivered}/${spooled}`;
      stable = now === last ? stable + 1 : 0;
      last = now;
      if (stable >= 3) break;
      await sleep(500);
    }
    const settleS = (performance.now() - settleStart) / 1000;
    rss.sample();
    const after = await scrapeMetrics(base, 10_000);

    // Rows committed, by callback.
    const rows = await sql<{ call_id: string; user_id: string }>(url, `SELECT call_id, user_id FROM call_events WHERE sdk_app_id = $1 AND call_id LIKE $2`, [SDKAPPID, `${prefix}-%`]);
    const storedIdx = new Set(rows.map((r) => Number(r.call_id.slice(prefix.length + 1))));
    const ackedMissing = sent.filter((x, i) => x.ok && !storedIdx.has(i)).length;
    const storedNotAcked = sent.filter((x, i) => !x.ok && storedIdx.has(i)).length;
    const perUser = new Map<string, number>();
    for (const r of rows) perUser.set(r.user_id, (perUser.get(r.user_id) ?? 0) + 1);

    const fin = await subs.ask<Final>('final', { sentWall: sent.map((x) => x.sentWall) }, 60_000);
    await waitFor(() => subs.child.exitCode !== null, 5000);
    const committed = rows.length;
    const allCounts = fin.counts.slice(0, fin.half);
    const filteredCounts = fin.counts.slice(fin.half);
    const deliveredAll = allCounts.reduce((a, b) => a + b, 0);
    const gotEvery = allCounts.filter((c) => c >= committed).length;
    const deliveredFiltered = filteredCounts.reduce((a, b) => a + b, 0);
    const filteredComplete = filteredCounts.filter((c, j) => c >= (perUser.get(`${userPrefix}${j}`) ?? 0)).length;
    const closeCodes = new Map<string, number>();
    for (const c of fin.closes) closeCodes.set(`${c.code}`, (closeCodes.get(`${c.code}`) ?? 0) + 1);
    const closedConns = new Set(fin.closes.map((c) => c.conn));
    const subsOnClosed = fin.counts.filter((_, sIdx) => closedConns.has(sIdx % WS_CONNECTIONS)).length;
    const b = batchDelta(before, after);
    const { hwm } = procMemKb(app.pid!);

    console.log(`\nload average ${la0} → ${la1} (1/5/15 min) during the load; first sends took ${(sendSpanMs / 1000).toFixed(1)} s; settled in ${settleS.toFixed(1)} s\n`);
    printTable(
      [
        'subscriptions',
        'callbacks sent',
        'answered 200',
        '503',
        `timeouts (${CALLBACK_TIMEOUT_MS / 1000} s)`,
        'other',
        'answer time p50 / p99 / max',
        'longest gap without a 200',
        'rows in call_events',
        'answered 200 but missing',
        'calltrail peak RSS',
      ],
      [
        [
          `${fmt(SUBS)} (${fmt(half)} all events)`,
          fmt(s.sent),
          fmt(s.ok),
          fmt(s.http503),
          timeoutsCell(s),
          s.others,
          `${ms(s.p50)} / ${ms(s.p99)} / ${ms(s.max)}`,
          gapCell(s, sendSpanMs),
          `${fmt(committed)} (${fmt(storedNotAcked)} not answered 200)`,
          fmt(ackedMissing),
          mb(rss.peakKb),
        ],
      ],
    );
    console.log('');
    printTable(
      ['live side', 'value'],
      [
        ['events delivered to all-events subscribers (sum)', `${fmt(deliveredAll)} of ${fmt(committed * fin.half)} (${fmt(fin.half)} × ${fmt(committed)} rows)`],
        ['all-events subscribers that got every event', `${fmt(gotEvery)} of ${fmt(fin.half)}`],
        ['events delivered to filtered subscribers (sum)', `${fmt(deliveredFiltered)}; ${fmt(filteredComplete)} of ${fmt(filteredCounts.length)} got all of their user's rows`],
        [
          'connections closed by the server',
          fin.closes.length ? `${fin.closes.length} of ${WS_CONNECTIONS} (${[...closeCodes.entries()].map(([c, n]) => `${c}: ${n}`).join(', ')}), carrying ${fmt(subsOnClosed)} subscriptions; e.g. "${fin.closes[0].reason}"` : '0',
        ],
        ['subscription errors', fin.subErrors.length ? fin.subErrors.map(([k, n]) => `${n} × ${k}`).join('; ') : '0'],
        ['delivery latency (send → probe), p50 / p99 / max', `${ms(fin.latency.p50)} / ${ms(fin.latency.p99)} / ${ms(fin.latency.max)} over ${fmt(fin.latency.n)} deliveries to ${fin.latency.probes} probes`],
        ['callbacks still in the outage spool at the end (/metrics; - before the spool existed)', Number.isNaN(metricValue(after, 'calltrail_spool_records')) ? '-' : fmt(metricValue(after, 'calltrail_spool_records'))],
        ['callbacks calltrail finished during the load (calltrail_callbacks_total)', handledCell(before, atEnd)],
        ['POST /callback as calltrail timed it during the load (its histogram)', serverLatencyCell(before, atEnd)],
        ['calltrail event-loop delay p99 / max during the load (/metrics)', loopDelayCell(atEnd)],
        ['ingest transactions (/metrics)', `${fmt(b.count)}, mean ${ms(b.meanMs)}, ${fmt(b.over05)} over 0.5 s, ${fmt(b.over1)} over 1 s, ${fmt(b.over2)} over 2 s`],
        ['subscriber process CPU', `${fin.cpuSeconds.toFixed(1)} s over ${fin.wallSeconds.toFixed(1)} s`],
        ['calltrail RSS peak / VmHWM', `${mb(rss.peakKb)} / ${mb(hwm)}`],
      ],
    );
    if (ackedMissing > 0) console.log(`\n${ackedMissing} callbacks were answered 200 and are not stored: the core guarantee is broken.`);
    console.log(`\nload average at the end ${loadAverage()}`);
  } finally {
    rss.stop();
    await agent.close().catch(() => undefined);
  }
}

/** Answer time p50 / p99 of the callbacks sent in each second of the load, on one line: where the slow ones are. */
function perSecond(sent: readonly { sentAt: number; latency: number }[]): string {
  const bySecond = new Map<number, number[]>();
  for (const x of sent) {
    const sec = Math.floor(x.sentAt / 1000);
    const list = bySecond.get(sec) ?? [];
    list.push(Number.isFinite(x.latency) ? x.latency : Number.POSITIVE_INFINITY);
    bySecond.set(sec, list);
  }
  const cells = [...bySecond.entries()].sort((a, b) => a[0] - b[0]).map(([sec, l]) => {
    l.sort((a, b) => a - b);
    return `${sec}s ${l[Math.floor(l.length / 2)].toFixed(0)}/${l[Math.min(l.length - 1, Math.floor(l.length * 0.99))].toFixed(0)}`;
  });
  return `answer time p50/p99 (ms) by second sent: ${cells.join(', ')}`;
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
