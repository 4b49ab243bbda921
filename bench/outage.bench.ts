/**
 * Outage: what a Tencent-like sender loses when PostgreSQL goes away under load.
 *
 * Starts a PostgreSQL of its own (test/support/embedded-pg-server.mjs in a temporary folder, a free
 * port) and calltrail as a child process (`node --import tsx src/main.ts`, LOG_LEVEL=warn,
 * SDKAPPIDS=1400000001), then sends RATE distinct v1 callbacks per second for DURATION seconds, each
 * retried the way Tencent retries (docs/trtc-callbacks.md, section 4): a reply that is not HTTP 200
 * with ErrorCode 0, an error or no reply within 2 s is retried after 0, 1, 1, 2, 3, 5 s (7 attempts),
 * then dropped. Meanwhile:
 *
 *   SCENARIO=pg-down   at OUTAGE_AT (10 s) PostgreSQL is killed (-9 of the postmaster; PG_STOP=term for
 *                      a clean SIGTERM) for OUTAGE seconds (30), then restarted on the same port.
 *   SCENARIO=kill-app  the same outage, and at KILL_APP_AT (25 s), PostgreSQL still down, calltrail is
 *                      killed -9 and started again APP_RESTART_AFTER (2) s later: same env, same
 *                      DATA_DIR and SPOOL_DIR.
 *
 * calltrail runs under a supervisor: if it exits by itself (a crash, or a start that fails while
 * PostgreSQL is down) it is started again after 2 s; the exits are counted.
 * When the sender is done, it waits (up to SETTLE s) until the stored count stops moving, then
 * counts in PostgreSQL what was stored, what was acknowledged but is missing (must be 0), what is
 * lost and what is stored twice.
 *
 *   npx tsx bench/outage.bench.ts
 *   SCENARIO=kill-app npx tsx bench/outage.bench.ts
 *   RATE=400 DURATION=90 OUTAGE=45 PG_STOP=term npx tsx bench/outage.bench.ts
 *   SPOOL=on SPOOL_MAX_MB=512 npx tsx bench/outage.bench.ts     # passed to calltrail, with INGEST_*, DB_*, HTTP_*, …
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { loadavg } from 'node:os';
import { Agent, request } from 'undici';
import { BenchApp, BenchPostgres, Scratch, createDatabase, fmt, percentile, printTable, serverVersion, sleep, sql, treeVersion } from './harness';

const num = (name: string, fallback: number) => {
  const v = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(v) || v < 0) throw new Error(`${name}: expected a non-negative number, got ${process.env[name]}`);
  return v;
};
const SCENARIO = process.env.SCENARIO ?? 'pg-down';
if (SCENARIO !== 'pg-down' && SCENARIO !== 'kill-app') throw new Error(`SCENARIO: expected pg-down or kill-app, got ${SCENARIO}`);
const RATE = num('RATE', 200);
const DURATION = num('DURATION', 60);
const OUTAGE_AT = num('OUTAGE_AT', 10);
const OUTAGE = num('OUTAGE', 30);
const KILL_APP_AT = num('KILL_APP_AT', 25);
const APP_RESTART_AFTER = num('APP_RESTART_AFTER', 2);
const PG_STOP = process.env.PG_STOP ?? 'kill9';
if (PG_STOP !== 'kill9' && PG_STOP !== 'term') throw new Error(`PG_STOP: expected kill9 or term, got ${PG_STOP}`);
const SETTLE = num('SETTLE', 60);
const ATTEMPT_TIMEOUT_MS = num('ATTEMPT_TIMEOUT_MS', 2000);
/** 0: as many connections as requests in flight (Tencent's side is not ours to limit). */
const SENDER_CONNECTIONS = num('SENDER_CONNECTIONS', 0);
/** Seconds between a failed attempt and the next (Tencent, v1 callbacks). */
const RETRY_DELAYS = [0, 1, 1, 2, 3, 5];
const SDKAPPID = '1400000001';
const BUCKET_S = 5;

const EVENTS: [role: string, event: string, result: string][] = [
  ['caller', 'start_call', ''],
  ['callee', 'receive_call', ''],
  ['callee', 'accept_call', ''],
  ['caller', 'call_accepted', ''],
  ['caller', 'call_end', 'normal_end'],
  ['callee', 'call_end', 'normal_end'],
  ['callee', 'reject_call', ''],
  ['caller', 'cancel_call', ''],
];
const PLATFORMS = ['iOS', 'Android', 'Web', 'miniProgram'];

interface Callback {
  readonly callId: string;
  readonly path: string;
  readonly body: string;
  firstSentAt: number;
  attempts: number;
  acked: boolean;
  dropped: boolean;
}

/** Callback `i`: its own CallId, UserId and EventTime, so each is a distinct event. */
function makeCallback(run: string, i: number, baseTime: number): Callback {
  const [role, event, result] = EVENTS[i % EVENTS.length];
  const callId = `ob-${run}-${i}`;
  const eventTime = baseTime + i;
  const body = {
    UserId: `user-${run}-${i}`,
    RoomId: `room-${run}-${i}`,
    TotalNum: 2,
    MediaType: i % 3 === 0 ? 'video' : 'audio',
    CallType: 'single',
    CallId: callId,
    Role: role,
    Event: event,
    CallResult: result,
    EventTime: eventTime,
    StartCallTs: eventTime - 30,
    AcceptTs: result ? eventTime - 25 : 0,
    EndTs: result ? eventTime : 0,
  };
  const query = new URLSearchParams({
    sdkappid: SDKAPPID,
    command: `${role}_${event}`,
    contenttype: 'json',
    clientip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
    optplatform: PLATFORMS[i % PLATFORMS.length],
  });
  return { callId, path: `/callback?${query}`, body: JSON.stringify(body), firstSentAt: 0, attempts: 0, acked: false, dropped: false };
}

/** What the sender saw. */
class SenderStats {
  attempts = 0;
  readonly statuses = new Map<string, number>();
  readonly latencies: number[] = [];
  timeouts = 0;
  errors = 0;
  count(key: string) {
    this.statuses.set(key, (this.statuses.get(key) ?? 0) + 1);
  }
}

/** A timeline of /readyz answers, compressed into runs of the same answer. */
class ReadyTimeline {
  private readonly runs: { status: number; from: number; to: number }[] = [];
  note(status: number, at: number) {
    const last = this.runs.at(-1);
    if (last && last.status === status) last.to = at;
    else this.runs.push({ status, from: at, to: at });
  }
  toString() {
    const name = (s: number) => (s === 0 ? 'no answer within 0.9 s' : String(s));
    return this.runs.map((r) => `${name(r.status)} ${r.from.toFixed(0)}–${r.to.toFixed(0)} s`).join(', ');
  }
}

async function main() {
  const scratch = new Scratch('outage');
  try {
    await bench(scratch);
  } finally {
    await scratch.cleanup();
  }
}

async function bench(scratch: Scratch) {
  const pg = await BenchPostgres.start(scratch);
  const version = await serverVersion(pg.adminUrl);
  const url = await createDatabase(pg.adminUrl, 'calltrail');
  const app = await BenchApp.start(scratch, { databaseUrl: url, supervise: true, restartDelayMs: 2000 });
  await app.waitReady();
  const spool = app.env.SPOOL === undefined ? 'unset (the build default)' : app.env.SPOOL;
  const total = Math.round(RATE * DURATION);
  console.log(
    `outage bench: ${SCENARIO}, tree ${treeVersion()}, embedded PostgreSQL ${version}, calltrail pid ${app.pid} on :${app.port}, SPOOL=${spool}, load average ${loadavg()[0].toFixed(1)}\n` +
      `  ${total} callbacks at ${RATE}/s for ${DURATION} s; PostgreSQL ${PG_STOP === 'kill9' ? 'kill -9 (postmaster)' : 'SIGTERM'} at ${OUTAGE_AT} s for ${OUTAGE} s` +
      (SCENARIO === 'kill-app' ? `; calltrail kill -9 at ${KILL_APP_AT} s, restarted ${APP_RESTART_AFTER} s later` : '') +
      `; attempts time out after ${ATTEMPT_TIMEOUT_MS} ms, retried after ${RETRY_DELAYS.join(', ')} s`,
  );

  const run = Date.now().toString(36);
  const baseTime = Math.floor(Date.now() / 1000) - 86_400;
  const callbacks = Array.from({ length: total }, (_, i) => makeCallback(run, i, baseTime));
  const stats = new SenderStats();
  const agent = new Agent({ connections: SENDER_CONNECTIONS > 0 ? SENDER_CONNECTIONS : null, pipelining: 1, keepAliveTimeout: 4000, connect: { timeout: ATTEMPT_TIMEOUT_MS } });
  // The sender shares the 2 cores with calltrail and PostgreSQL: its own lag is reported.
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const cpuBefore = process.cpuUsage();
  const t0 = performance.now();
  const now = () => (performance.now() - t0) / 1000;

  const attempt = async (cb: Callback): Promise<boolean> => {
    stats.attempts++;
    cb.attempts++;
    const started = performance.now();
    try {
      const res = await request(`${app.baseUrl}${cb.path}`, {
        method: 'POST',
        body: cb.body,
        headers: { 'content-type': 'application/json' },
        dispatcher: agent,
        signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
      });
      const text = await res.body.text();
      stats.latencies.push(performance.now() - started);
      stats.count(String(res.statusCode));
      if (res.statusCode !== 200) return false;
      try {
        return (JSON.parse(text) as { ErrorCode?: unknown }).ErrorCode === 0;
      } catch {
        return false;
      }
    } catch (err) {
      const e = err as { name?: string; code?: string };
      if (e.name === 'TimeoutError' || e.name === 'AbortError' || e.code === 'UND_ERR_ABORTED' || e.code === 'UND_ERR_CONNECT_TIMEOUT') {
        stats.timeouts++;
        stats.count('timeout');
      } else {
        stats.errors++;
        stats.count(e.code ?? e.name ?? 'error');
      }
      return false;
    }
  };
  const deliver = async (cb: Callback): Promise<void> => {
    cb.firstSentAt = now();
    for (let a = 0; a <= RETRY_DELAYS.length; a++) {
      if (a > 0) await sleep(RETRY_DELAYS[a - 1] * 1000);
      if (await attempt(cb)) {
        cb.acked = true;
        return;
      }
    }
    cb.dropped = true;
  };

  // The scenario's events, on the same clock as the sender.
  const at = (s: number) => sleep(Math.max(0, s * 1000 - (performance.now() - t0)));
  const marks: string[] = [];
  const mark = (what: string) => marks.push(`${now().toFixed(1)} s ${what}`);
  let pgDownAt = Number.NaN;
  let pgUpAt = Number.NaN;
  const outage = (async () => {
    await at(OUTAGE_AT);
    pgDownAt = now();
    mark(`PostgreSQL ${PG_STOP === 'kill9' ? `kill -9 (postmaster ${pg.postmasterPid()})` : 'SIGTERM'}`);
    if (PG_STOP === 'kill9') await pg.crash();
    else await pg.stop();
    mark('PostgreSQL gone');
    await at(OUTAGE_AT + OUTAGE);
    mark('PostgreSQL starting');
    await pg.start();
    pgUpAt = now();
    mark('PostgreSQL ready');
  })();
  const appKill = (async () => {
    if (SCENARIO !== 'kill-app') return;
    await at(KILL_APP_AT);
    mark(`calltrail kill -9 (pid ${app.pid ?? 'none: between starts'})`);
    await app.crash(APP_RESTART_AFTER * 1000);
  })();
  const timeline = new ReadyTimeline();
  let monitoring = true;
  const monitor = (async () => {
    for (let i = 0; monitoring && i < 100_000; i++) {
      const t = now();
      timeline.note(await app.ready(900), t);
      await sleep(Math.max(0, 1000 - (now() - t) * 1000));
    }
  })();

  // The sender: callback i is first sent at i / RATE seconds.
  const deliveries: Promise<void>[] = [];
  for (let loop = 0; deliveries.length < total && loop < 10_000_000; loop++) {
    const due = Math.min(total, Math.floor(now() * RATE) + 1);
    while (deliveries.length < due) deliveries.push(deliver(callbacks[deliveries.length]));
    await sleep(5);
  }
  const sentFor = now();
  // Each delivery is bounded (7 attempts of at most ATTEMPT_TIMEOUT_MS plus 12 s of pauses).
  await Promise.all(deliveries);
  mark('sender done');
  loopDelay.disable();
  const cpu = process.cpuUsage(cpuBefore);
  const senderCpu = (cpu.user + cpu.system) / 1e6 / now();
  await Promise.all([outage, appKill]);
  if (!app.running) await app.waitReady(60_000).catch(() => undefined);

  // Until the count stops moving (anything still pending, e.g. a spool replay, lands first).
  const prefix = `ob-${run}-%`;
  const storedCount = async () => {
    try {
      const [{ n }] = await sql<{ n: number }>(url, `SELECT count(DISTINCT call_id)::int AS n FROM call_events WHERE sdk_app_id = $1 AND call_id LIKE $2`, [SDKAPPID, prefix]);
      return n;
    } catch {
      return -1;
    }
  };
  let last = -2;
  let stableFor = 0;
  const settleStart = now();
  for (let i = 0; i < SETTLE * 2 + 10 && now() - settleStart < SETTLE; i++) {
    const n = await storedCount();
    stableFor = n === last && n >= 0 ? stableFor + 1 : 0;
    last = n;
    if (n === total || stableFor >= 5) break;
    await sleep(1000);
  }
  mark(`stored count settled at ${fmt(last)} after ${(now() - settleStart).toFixed(0)} s`);
  monitoring = false;
  await monitor;

  const rows = await sql<{ call_id: string; n: number }>(url, `SELECT call_id, count(*)::int AS n FROM call_events WHERE sdk_app_id = $1 AND call_id LIKE $2 GROUP BY call_id`, [SDKAPPID, prefix]);
  const [{ calls }] = await sql<{ calls: number }>(url, `SELECT count(*)::int AS calls FROM calls WHERE sdk_app_id = $1 AND call_id LIKE $2`, [SDKAPPID, prefix]);
  const perCall = new Map(rows.map((r) => [r.call_id, r.n]));
  const stored = callbacks.filter((c) => perCall.has(c.callId)).length;
  const acked = callbacks.filter((c) => c.acked).length;
  const ackedLost = callbacks.filter((c) => c.acked && !perCall.has(c.callId)).length;
  const dropped = callbacks.filter((c) => c.dropped).length;
  const storedUnacked = callbacks.filter((c) => !c.acked && perCall.has(c.callId)).length;
  const duplicates = rows.reduce((s, r) => s + (r.n - 1), 0);
  const lost = total - stored;

  console.log('\n' + marks.map((m) => `  ${m}`).join('\n'));
  console.log(`  PostgreSQL unavailable ${pgDownAt.toFixed(1)}–${pgUpAt.toFixed(1)} s (${(pgUpAt - pgDownAt).toFixed(1)} s); first sends took ${sentFor.toFixed(1)} s`);
  console.log(`  calltrail /readyz: ${timeline}`);
  console.log(`  calltrail exits nobody asked for: ${app.unexpectedExits}; starts after the first: ${app.restarts}\n`);

  printTable(
    ['scenario', 'sent', 'acknowledged', 'stored', 'lost', 'acknowledged but lost', 'duplicates', '503 answers', 'p99 answer'],
    [[SCENARIO, fmt(total), fmt(acked), fmt(stored), `${fmt(lost)} (${((100 * lost) / total).toFixed(1)}%)`, fmt(ackedLost), fmt(duplicates), fmt(stats.statuses.get('503') ?? 0), `${percentile(stats.latencies, 99).toFixed(0)} ms`]],
  );
  console.log('');
  const statuses = [...stats.statuses.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}: ${fmt(v)}`).join(', ');
  printTable(
    ['detail', 'value'],
    [
      ['attempts (answers by status, timeouts, errors)', `${fmt(stats.attempts)} (${statuses})`],
      ['dropped by the sender after 7 attempts', fmt(dropped)],
      ['stored although never acknowledged', fmt(storedUnacked)],
      ['answer time p50 / p99 / max', `${percentile(stats.latencies, 50).toFixed(0)} / ${percentile(stats.latencies, 99).toFixed(0)} / ${percentile(stats.latencies, 100).toFixed(0)} ms`],
      ['calls projected (one per stored callback)', fmt(calls)],
      ['sender: event-loop delay p99 / max, CPU', `${(loopDelay.percentile(99) / 1e6).toFixed(0)} / ${(loopDelay.max / 1e6).toFixed(0)} ms, ${(100 * senderCpu).toFixed(0)}% of a core`],
    ],
  );
  console.log('');
  const buckets = Math.ceil(DURATION / BUCKET_S);
  const byBucket = Array.from({ length: buckets }, (_, b) => {
    const inB = callbacks.filter((c) => Math.min(buckets - 1, Math.floor(c.firstSentAt / BUCKET_S)) === b);
    const lostB = inB.filter((c) => !perCall.has(c.callId)).length;
    return [`${b * BUCKET_S}–${(b + 1) * BUCKET_S} s`, fmt(inB.length), fmt(inB.filter((c) => c.acked).length), fmt(lostB)];
  });
  printTable(['first sent', 'sent', 'acknowledged', 'lost'], byBucket);
  await agent.close().catch(() => undefined);
  if (sentFor > DURATION * 1.02 + 0.5 || loopDelay.max / 1e6 > 1000) {
    console.log(
      `\nWARNING: the sender fell behind (first sends took ${sentFor.toFixed(1)} s for ${DURATION} s, event-loop stall up to ${(loopDelay.max / 1e6).toFixed(0)} ms): ` +
        'the machine was overloaded; retries landed later than Tencent would send them, so the loss is understated. Run again on a quieter machine.',
    );
  }
  if (ackedLost > 0) console.log(`\n${ackedLost} callbacks were answered 200 and are not stored: the core guarantee is broken.`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
