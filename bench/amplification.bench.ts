/**
 * Amplification: what a few expensive GraphQL queries from one scoped key do to ingest.
 *
 * Starts a PostgreSQL of its own and calltrail as a child process (bench/harness.ts), creates an
 * API key scoped to app 1400000001 (inserted into api_keys), seeds SEED_CALLS calls (4 callbacks
 * each: start, receive, accept, end; 2 participants and 4 events per call) by posting callbacks,
 * then runs two phases on the same calltrail:
 *
 *   baseline  a Tencent-like sender posts RATE distinct callbacks per second for DURATION seconds,
 *             each once, with a 2 s client timeout (CALLBACK_TIMEOUT_MS), and records status and latency;
 *   attack    the same sender, and meanwhile ATTACKERS clients loop (each one request at a time) on
 *             a query of 20 aliases of `calls(first: $n)` nested calls → participants → call →
 *             participants → call → events → call (depth 10), with variables {"n": 500}, from the
 *             scoped key. When the sender is done no new attack starts; those in flight get
 *             ATTACK_GRACE (30) s to finish, then are cut.
 *
 * Between the phases one attack query is sent alone (its time and response size). The calltrail
 * child's VmRSS is sampled every 200 ms from /proc/<pid>/status (peak per phase); VmHWM at the end.
 *
 *   npx tsx bench/amplification.bench.ts
 *   DURATION=30 RATE=300 ATTACKERS=5 npx tsx bench/amplification.bench.ts
 *   GRAPHQL_MAX_COST=100000000 npx tsx bench/amplification.bench.ts  # passed to calltrail (GRAPHQL_*, INGEST_*, DB_*, LIVE_*, …)
 */
import { cpus, totalmem } from 'node:os';
import { Agent, request } from 'undici';
import { BenchApp, BenchPostgres, Scratch, createDatabase, fmt, percentile, printTable, serverVersion, sleep, sql, treeVersion } from './harness';
import {
  RssSampler,
  SDKAPPID,
  batchDelta,
  callbackPath,
  createScopedKey,
  loadAverage,
  loadCallback,
  mb,
  metricValue,
  ms,
  num,
  openLoopSend,
  postOnce,
  procMemKb,
  scrapeMetrics,
  summarise,
  gapCell,
  handledCell,
  loopDelayCell,
  senderAgent,
  timeoutsCell,
  type CallbackRequest,
} from './bulkhead-support';

const DURATION = num('DURATION', 20);
const RATE = num('RATE', 200);
const ATTACKERS = num('ATTACKERS', 3);
const SEED_CALLS = num('SEED_CALLS', 2000);
const PAGE = num('PAGE', 500);
const ALIASES = num('ALIASES', 20);
const CALLBACK_TIMEOUT_MS = num('CALLBACK_TIMEOUT_MS', 2000);
/** Upper bound of one attack request (they are also cut when the phase ends). */
const ATTACK_TIMEOUT_MS = num('ATTACK_TIMEOUT_MS', 120_000);
const PAUSE_S = num('PAUSE', 5);
/** After the sender's last callback, attack requests in flight may finish for this long before they are cut. */
const ATTACK_GRACE_S = num('ATTACK_GRACE', 30);

/** 20 aliases of the same nested page: depth 10 with `callId`. */
export function attackQuery(aliases = ALIASES): string {
  const one = (k: number) => `a${k}: calls(first: $n) { edges { node { participants { call { participants { call { events { call { callId } } } } } } } } }`;
  return `query Amplify($n: Int) { ${Array.from({ length: aliases }, (_, k) => one(k)).join(' ')} }`;
}

interface AttackResult {
  outcome: string;
  latency: number;
  bytes: number;
  codes: string[];
  message: string;
}

/** One attack request: status, error codes (from the head and tail of the body), size; never throws. */
async function attackOnce(agent: Agent, base: string, key: string, signal: AbortSignal): Promise<AttackResult> {
  const started = performance.now();
  const r: AttackResult = { outcome: 'pending', latency: Number.NaN, bytes: 0, codes: [], message: '' };
  try {
    const res = await request(`${base}/graphql`, {
      method: 'POST',
      dispatcher: agent,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query: attackQuery(), variables: { n: PAGE } }),
      signal: AbortSignal.any([signal, AbortSignal.timeout(ATTACK_TIMEOUT_MS)]),
    });
    r.outcome = String(res.statusCode);
    let head = '';
    let tail = '';
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      r.bytes += chunk.length;
      if (head.length < 8192) head += chunk.toString('utf8', 0, Math.min(chunk.length, 8192));
      tail = (tail + chunk.toString('utf8', Math.max(0, chunk.length - 8192))).slice(-8192);
    }
    const text = r.bytes <= 8192 ? head : `${head}\n${tail}`;
    r.codes = [...new Set([...text.matchAll(/"code"\s*:\s*"([A-Za-z_]+)"/g)].map((m) => m[1]))];
    r.message = /"message"\s*:\s*"([^"]{0,160})/.exec(text)?.[1] ?? '';
    if (res.statusCode === 200 && r.codes.length === 0) r.outcome = '200 data';
  } catch (err) {
    const e = err as { name?: string; code?: string };
    if (signal.aborted) r.outcome = 'cut at end of phase';
    else if (e.name === 'TimeoutError') r.outcome = 'timeout';
    else r.outcome = e.code ?? e.name ?? 'error';
  }
  r.latency = performance.now() - started;
  return r;
}

/** Posts callbacks with `concurrency` in flight, each retried until it is stored (bounded). */
async function postAll(agent: Agent, base: string, cbs: CallbackRequest[], concurrency: number): Promise<number> {
  let next = 0;
  let failed = 0;
  const worker = async () => {
    for (let guard = 0; next < cbs.length && guard < 10_000_000; guard++) {
      const cb = cbs[next++];
      let ok = false;
      for (let a = 0; a < 6 && !ok; a++) {
        if (a > 0) await sleep(500 * a);
        ok = (await postOnce(agent, base, cb, 10_000, performance.now())).ok;
      }
      if (!ok) failed++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return failed;
}

/** SEED_CALLS calls with 2 participants and 4 events each, newer than anything the sender posts. */
function seedCallbacks(run: string): CallbackRequest[] {
  const base = Math.floor(Date.now() / 1000) - 6 * 3600;
  const out: CallbackRequest[] = [];
  const steps: [role: string, event: string, result: string, dt: number][] = [
    ['caller', 'start_call', '', 0],
    ['callee', 'receive_call', '', 1],
    ['callee', 'accept_call', '', 5],
    ['caller', 'call_end', 'normal_end', 65],
  ];
  for (let c = 0; c < SEED_CALLS; c++) {
    const t = base + c * 5;
    const caller = `alice-${c % 97}`;
    const callee = `bob-${c % 89}`;
    steps.forEach(([role, event, result, dt], k) => {
      const body = {
        UserId: role === 'caller' ? caller : callee,
        RoomId: `room-seed-${run}-${c}`,
        TotalNum: 2,
        MediaType: c % 3 === 0 ? 'video' : 'audio',
        CallType: 'single',
        CallId: `seed-${run}-${c}`,
        Role: role,
        Event: event,
        CallResult: result,
        EventTime: t + dt,
        StartCallTs: t,
        AcceptTs: dt >= 5 ? t + 5 : 0,
        EndTs: result ? t + dt : 0,
      };
      out.push({ callId: body.CallId, userId: body.UserId, path: callbackPath(role, event, c * 4 + k), body: JSON.stringify(body) });
    });
  }
  return out;
}

async function main() {
  const scratch = new Scratch('amplification');
  try {
    await bench(scratch);
  } finally {
    await scratch.cleanup();
  }
}

async function bench(scratch: Scratch) {
  const run = Date.now().toString(36);
  console.log(`amplification bench: tree ${treeVersion()}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, load average ${loadAverage()} (1/5/15 min)`);
  const pg = await BenchPostgres.start(scratch);
  const url = await createDatabase(pg.adminUrl, 'calltrail_amplification');
  console.log(`PostgreSQL ${await serverVersion(pg.adminUrl)} (own cluster, port ${pg.port})`);
  // The harness passes INGEST_*, DB_*, LIVE_*, HTTP_*, … through; GRAPHQL_* (the query bulkheads) here.
  const graphqlEnv = Object.fromEntries(Object.entries(process.env).filter(([k, v]) => k.startsWith('GRAPHQL_') && v !== undefined)) as Record<string, string>;
  const app = await BenchApp.start(scratch, { databaseUrl: url, env: graphqlEnv });
  await app.waitReady();
  const base = app.baseUrl;
  const key = await createScopedKey(url, 'bench-amplification', [SDKAPPID]);
  const rss = new RssSampler(() => app.pid);
  const agent = senderAgent(CALLBACK_TIMEOUT_MS);
  const attackAgent = new Agent({ keepAliveTimeout: 4000, headersTimeout: ATTACK_TIMEOUT_MS, bodyTimeout: ATTACK_TIMEOUT_MS });
  try {
    // Seed.
    const seedStarted = performance.now();
    const seeds = seedCallbacks(run);
    const seedFailed = await postAll(agent, base, seeds, 32);
    const [counts] = await sql<{ calls: number; participants: number; events: number }>(
      url,
      `SELECT (SELECT count(*)::int FROM calls WHERE call_id LIKE $1) AS calls,
              (SELECT count(*)::int FROM call_participants WHERE call_id LIKE $1) AS participants,
              (SELECT count(*)::int FROM call_events WHERE call_id LIKE $1) AS events`,
      [`seed-${run}-%`],
    );
    console.log(
      `seeded ${fmt(counts.calls)} calls, ${fmt(counts.participants)} participants, ${fmt(counts.events)} events by ${fmt(seeds.length)} callbacks ` +
        `in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s (${seedFailed} not stored); calltrail RSS ${mb(procMemKb(app.pid!).rss)}`,
    );
    console.log(`attack query (${attackQuery().length} characters), variables {"n": ${PAGE}}:\n  ${attackQuery(1).replace(/ a0:/, ' a0 … a19:')}\n`);

    // Sender callbacks are older than the seeded calls, so `calls(first: 500)` (newest first) pages the seeded ones.
    const T0 = 1_704_695_566;
    const phase = async (label: string, attackers: number) => {
      const prefix = `amp-${run}-${label}`;
      const before = await scrapeMetrics(base, 10_000);
      rss.reset();
      const stop = new AbortController();
      let stopLaunching = false;
      const attacks: AttackResult[] = [];
      const attackLoops = Array.from({ length: attackers }, async () => {
        for (let i = 0; !stopLaunching && i < 100_000; i++) attacks.push(await attackOnce(attackAgent, base, key, stop.signal));
      });
      const { sent, sendSpanMs } = await openLoopSend({
        agent,
        base,
        rate: RATE,
        durationS: DURATION,
        timeoutMs: CALLBACK_TIMEOUT_MS,
        make: (i) => loadCallback(prefix, i, `caller-${i % 500}`, T0 + i),
      });
      // No new attack request from now on; those in flight get ATTACK_GRACE s to finish.
      const cut = new AbortController();
      const graceTimer = setTimeout(() => cut.abort(), ATTACK_GRACE_S * 1000);
      stopLaunching = true;
      await Promise.all(attackLoops.map((l) => Promise.race([l, new Promise((r) => cut.signal.addEventListener('abort', r))])));
      stop.abort();
      clearTimeout(graceTimer);
      await Promise.all(attackLoops);
      rss.sample();
      const after = await scrapeMetrics(base, 30_000);
      const s = summarise(sent, sendSpanMs);
      const mix = new Map<string, number>();
      for (const a of attacks) {
        const k = a.codes.length ? `${a.outcome} ${a.codes.join('+')}` : a.outcome;
        mix.set(k, (mix.get(k) ?? 0) + 1);
      }
      const completed = attacks.filter((a) => a.outcome !== 'cut at end of phase');
      const aLat = completed.map((a) => a.latency);
      const b = batchDelta(before, after);
      return { label, attackers, sent, s, sendSpanMs, attacks, completed, mix, aLat, peak: rss.peakKb, batches: b, prefix, before, after };
    };

    const la0 = loadAverage();
    const baseline = await phase('baseline', 0);
    console.log(`baseline done (load average ${la0} → ${loadAverage()})`);
    await sleep(PAUSE_S * 1000);

    // One attack query alone: what a single one costs.
    rss.reset();
    const solo = await attackOnce(attackAgent, base, key, new AbortController().signal);
    rss.sample();
    const soloPeak = rss.peakKb;
    console.log(
      `one attack query alone: ${solo.outcome}${solo.codes.length ? ` ${solo.codes.join('+')}` : ''} in ${ms(solo.latency)}, ${(solo.bytes / 2 ** 20).toFixed(1)} MiB of response` +
        `${solo.message ? ` ("${solo.message}")` : ''}; calltrail peak RSS ${mb(soloPeak)}`,
    );
    await sleep(PAUSE_S * 1000);

    const la1 = loadAverage();
    const attack = await phase('attack', ATTACKERS);
    console.log(`attack done (load average ${la1} → ${loadAverage()})\n`);

    const { hwm } = procMemKb(app.pid!);
    const rows = [baseline, attack].map((p) => [
      p.attackers === 0 ? 'baseline: sender only' : `sender + ${p.attackers} attackers`,
      fmt(p.s.sent),
      fmt(p.s.ok),
      fmt(p.s.http503),
      timeoutsCell(p.s),
      p.s.others,
      `${ms(p.s.p50)} / ${ms(p.s.p99)} / ${ms(p.s.max)}`,
      gapCell(p.s, p.sendSpanMs),
      p.attackers === 0 ? '-' : `${fmt(p.completed.length)} (${fmt(p.attacks.length - p.completed.length)} cut at end)`,
      p.attackers === 0 ? '-' : [...p.mix.entries()].map(([k, v]) => `${k}: ${v}`).join(', '),
      p.attackers === 0 ? '-' : `${ms(percentile(p.aLat, 50))} / ${ms(p.aLat.length ? Math.max(...p.aLat) : Number.NaN)}`,
      mb(p.peak),
    ]);
    printTable(
      [
        'phase',
        'callbacks sent',
        'answered 200',
        '503',
        `timeouts (${CALLBACK_TIMEOUT_MS / 1000} s)`,
        'other',
        'answer time p50 / p99 / max',
        'longest gap without a 200',
        'attack requests completed',
        'attack status mix',
        'attack latency p50 / max',
        'calltrail peak RSS',
      ],
      rows,
    );
    console.log('');

    // Stored: every callback answered 200 must be in call_events.
    const detail: string[][] = [];
    for (const p of [baseline, attack]) {
      const stored = await sql<{ call_id: string }>(url, `SELECT DISTINCT call_id FROM call_events WHERE sdk_app_id = $1 AND call_id LIKE $2`, [SDKAPPID, `${p.prefix}-%`]);
      const have = new Set(stored.map((r) => r.call_id));
      const ackedLost = p.sent.filter((s, i) => s.ok && !have.has(`${p.prefix}-${i}`)).length;
      const b = p.batches;
      detail.push([
        p.label,
        `${fmt(have.size)} stored (${fmt(ackedLost)} answered 200 but missing)`,
        `${fmt(b.count)} batches, mean ${ms(b.meanMs)}, ${fmt(b.over1)} over 1 s, ${fmt(b.over2)} over 2 s`,
        `${(p.sendSpanMs / 1000).toFixed(1)} s`,
        Number.isNaN(metricValue(p.after, 'calltrail_spool_records')) ? '-' : fmt(metricValue(p.after, 'calltrail_spool_records')),
        handledCell(p.before, p.after),
        loopDelayCell(p.after),
      ]);
    }
    printTable(
      [
        'phase',
        'sender callbacks in call_events',
        'ingest transactions (/metrics)',
        'first sends took',
        'in the outage spool after the phase',
        'callbacks calltrail finished (calltrail_callbacks_total)',
        'calltrail event-loop delay p99 / max',
      ],
      detail,
    );
    const messages = new Map<string, number>();
    for (const a of attack.attacks) if (a.message) messages.set(`${a.outcome} ${a.codes.join('+')}: ${a.message}`, (messages.get(`${a.outcome} ${a.codes.join('+')}: ${a.message}`) ?? 0) + 1);
    if (messages.size) console.log(`\nattack answers' first error messages:\n${[...messages.entries()].map(([m, n]) => `  ${n} × ${m}`).join('\n')}`);
    const sizes = attack.completed.filter((a) => a.bytes > 0).map((a) => a.bytes);
    if (sizes.length) {
      const mib = (b: number) => `${(b / 2 ** 20).toFixed(2)} MiB`;
      console.log(`attack response sizes: median ${mib(percentile(sizes, 50))}, max ${mib(percentile(sizes, 100))} (${sizes.length} responses)`);
    }
    console.log(`\ncalltrail VmHWM at the end: ${mb(hwm)}; load average at the end ${loadAverage()}`);
  } finally {
    rss.stop();
    await agent.close().catch(() => undefined);
    await attackAgent.destroy().catch(() => undefined);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
