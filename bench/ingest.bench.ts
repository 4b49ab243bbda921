/**
 * Ingest from outside: calltrail (a child process, as `npm start` runs it with APP_ENTRY=dist) against the
 * naive baseline (bench/naive-server.ts: node:http, one INSERT per request, no projection), each on a fresh
 * database of the same PostgreSQL, alternating naive, calltrail, naive, calltrail (ROUNDS).
 *
 * - closed loop: CLIENTS (50) clients each send the next callback when the last is answered. "realistic"
 *   is one-to-one calls of 7 callbacks (start, receive, accept, accepted, two ends, the status callback),
 *   64 calls in progress at a time, their steps interleaved; "new calls" gives every callback a call of its own.
 * - open loop: RATE (2,000) callbacks/s for OPEN_SECONDS (10) whatever the answers, latency from the time
 *   each was due (so a server that falls behind shows it), 256 connections.
 * - group call (calltrail only): a GROUP_SIZE (1,000) participant group call's callbacks (start, a receive
 *   and an accept per callee, an end per participant, the status), closed loop, against the very same
 *   bodies spread over 7-callback calls.
 *
 * Every scenario checks what was stored: every callback answered 200 must be a row of `call_events`.
 * CPU per callback is the server's (utime + stime of its process, every thread), PostgreSQL's (every `postgres`
 * process on this machine: BENCH_PG_URL must be local, or the column reads 0) and the load generator's own;
 * "machine CPU busy" is the share of all cores' time that was not idle (/proc/stat), whatever used it, and
 * that time per callback; the round's line divides each rate by that share: the rate the same CPU per
 * callback would allow with every core busy, an upper bound on what removing waits could give.
 *
 *   npm run build && APP_ENTRY=dist npx tsx bench/ingest.bench.ts               # own PostgreSQL cluster
 *   BENCH_PG_URL=postgres://postgres@127.0.0.1:5432/postgres APP_ENTRY=dist npx tsx bench/ingest.bench.ts
 *   CALLBACKS=14000 CLIENTS=50 RATE=2000 OPEN_SECONDS=10 ROUNDS=2 GROUP_SIZE=1000 ONLY=closed,open,group
 *   PARTITIONS=120: both servers write a `call_events` of 120 daily partitions (calltrail with
 *   EVENT_PARTITION=day and RETENTION_DAYS=120), as a deployment with a long retention of daily partitions has.
 *   PG_DELAY_MS=1: both servers reach PostgreSQL through bench/delay-proxy.ts (1 ms each way, about 2.8 ms
 *   a round trip here), as a managed PostgreSQL across a network would be.
 */
import 'reflect-metadata';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { Pool } from 'undici';
import { createDataSource, migrate } from '../src/db/database';
import { EventPartitionRepository } from '../src/db/event-partitions.repository';
import { BenchApp, BenchPostgres, REPO, Scratch, createDatabase, dropDatabase, fmt, freePort, percentile, printTable, serverVersion, sql, treeVersion, waitFor } from './harness';
import { cpuMs, postgresCpuMs } from './query-reads';
import { run } from './support';

const CALLBACKS = Number(process.env.CALLBACKS ?? 14_000);
const CLIENTS = Number(process.env.CLIENTS ?? 50);
const RATE = Number(process.env.RATE ?? 2000);
const OPEN_SECONDS = Number(process.env.OPEN_SECONDS ?? 10);
const ROUNDS = Number(process.env.ROUNDS ?? 2);
const GROUP_SIZE = Number(process.env.GROUP_SIZE ?? 1000);
/** Daily partitions of `call_events` made before each server starts (0: the migrations' monthly ones). */
const PARTITIONS = Number(process.env.PARTITIONS ?? 0);
const ONLY = new Set((process.env.ONLY ?? 'closed,open,group').split(','));
const APP = '1400000001';

interface Callback {
  readonly query: string;
  readonly body: string;
}

const callback = (command: string, body: Record<string, unknown>): Callback => ({
  query: `sdkappid=${APP}&command=${command}&contenttype=json&clientip=10.0.0.1&optplatform=Android`,
  body: JSON.stringify(body),
});

/** The 7 callbacks of an answered one-to-one call, in the order they happen. */
function oneToOne(callId: string, n: number, t0: number): Callback[] {
  const caller = `u${n % 9973}`;
  const callee = `u${(n * 7 + 1) % 9973}`;
  const common = { RoomId: `room-${callId}`, TotalNum: 2, MediaType: n % 5 < 2 ? 'video' : 'audio', CallType: 'single', CallId: callId, CallResult: '' };
  const times = { StartCallTs: t0, AcceptTs: t0 + 5, EndTs: t0 + 65 };
  const side = (user: string, role: string, event: string, at: number, extra = {}) =>
    callback(`${role}_${event}`, { UserId: user, Role: role, Event: event, EventTime: at, ...common, ...extra });
  return [
    side(caller, 'caller', 'start_call', t0),
    side(callee, 'callee', 'receive_call', t0),
    side(callee, 'callee', 'accept_call', t0 + 5),
    side(caller, 'caller', 'call_accepted', t0 + 5),
    side(caller, 'caller', 'call_end', t0 + 65, times),
    side(callee, 'callee', 'call_end', t0 + 65, times),
    callback('normal_end', { UserId: caller, Role: 'caller', ...common, CallResult: 'normal_end', EventTime: t0 + 65, ...times }),
  ];
}

/** `count` callbacks of 7-callback calls, WINDOW calls in progress at a time and their steps interleaved. */
function realistic(tag: string, count: number, t0: number): Callback[] {
  const WINDOW = 64;
  const out: Callback[] = [];
  for (let first = 0; out.length < count; first += WINDOW) {
    const calls = Array.from({ length: WINDOW }, (_, i) => oneToOne(`${tag}-${first + i}`, first + i, t0 + first + i));
    for (let step = 0; step < 7; step++) for (const c of calls) out.push(c[step]);
  }
  return out.slice(0, count);
}

/** Every callback the start of a call of its own. */
function newCalls(tag: string, count: number, t0: number): Callback[] {
  return Array.from({ length: count }, (_, n) => oneToOne(`${tag}-${n}`, n, t0 + n)[0]);
}

/** The callbacks of one group call of `size` participants, as the callees' clients send them. */
function groupCall(callId: string, size: number, t0: number): Callback[] {
  const common = { RoomId: `room-${callId}`, TotalNum: size, MediaType: 'video', CallType: 'group', CallId: callId, CallResult: '' };
  const times = { StartCallTs: t0, AcceptTs: t0 + 5, EndTs: t0 + 600 };
  const side = (user: string, role: string, event: string, at: number, extra = {}) =>
    callback(`${role}_${event}`, { UserId: user, Role: role, Event: event, EventTime: at, ...common, ...extra });
  const callees = Array.from({ length: size - 1 }, (_, i) => `g${i + 1}`);
  return [
    side('g0', 'caller', 'start_call', t0),
    ...callees.map((u) => side(u, 'callee', 'receive_call', t0)),
    ...callees.map((u, i) => side(u, 'callee', 'accept_call', t0 + 2 + (i % 10))),
    side('g0', 'caller', 'call_end', t0 + 600, times),
    ...callees.map((u) => side(u, 'callee', 'call_end', t0 + 600, times)),
    callback('normal_end', { UserId: 'g0', Role: 'caller', ...common, CallResult: 'normal_end', EventTime: t0 + 600, ...times }),
  ];
}

/** The same bodies, each group of 7 consecutive callbacks given a call of its own. */
function spread(callbacks: Callback[], tag: string): Callback[] {
  return callbacks.map((c, i) => {
    const body = JSON.parse(c.body) as Record<string, unknown>;
    return { query: c.query, body: JSON.stringify({ ...body, CallId: `${tag}-${Math.floor(i / 7)}`, RoomId: `room-${tag}-${Math.floor(i / 7)}` }) };
  });
}

/** Starts bench/delay-proxy.ts in front of the server of `url`; returns `url` through it. */
async function throughDelayProxy(scratch: Scratch, url: string, delayMs: string): Promise<string> {
  const target = new URL(url);
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/delay-proxy.ts'], {
    cwd: REPO,
    env: { PATH: process.env.PATH ?? '', LISTEN_PORT: String(port), TARGET: `${target.hostname}:${target.port || 5432}`, DELAY_MS: delayMs },
    detached: true,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  scratch.registerGroup(child.pid!);
  scratch.onCleanup(async () => void child.kill('SIGTERM'), () => child.kill('SIGKILL'));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`delay proxy exited ${code}`)));
  });
  target.port = String(port);
  return target.toString();
}

interface Server {
  readonly name: string;
  readonly baseUrl: string;
  readonly pid: number;
  readonly dbUrl: string;
  stop(): Promise<void>;
}

async function startNaive(scratch: Scratch, dbUrl: string): Promise<Server> {
  await migrate(dbUrl);
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/naive-server.ts'], {
    cwd: REPO,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', DATABASE_URL: dbUrl, PORT: String(port), ...(process.env.NAIVE_POOL ? { NAIVE_POOL: process.env.NAIVE_POOL } : {}) },
    detached: true,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  scratch.registerGroup(child.pid!);
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    if (!(await waitFor(() => child.exitCode !== null || child.signalCode !== null, 5000))) child.kill('SIGKILL');
  };
  scratch.onCleanup(stop, () => child.kill('SIGKILL'));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`naive server exited ${code}`)));
  });
  return { name: 'naive', baseUrl: `http://127.0.0.1:${port}`, pid: child.pid!, dbUrl, stop };
}

async function startCalltrail(scratch: Scratch, dbUrl: string): Promise<Server> {
  const partitioning: Record<string, string> = PARTITIONS > 0 ? { EVENT_PARTITION: 'day', RETENTION_DAYS: String(PARTITIONS) } : {};
  const app = await BenchApp.start(scratch, { databaseUrl: dbUrl, env: { NODE_ENV: 'production', LOG_LEVEL: 'warn', ...partitioning } });
  await app.waitReady();
  return { name: 'calltrail', baseUrl: app.baseUrl, pid: app.pid!, dbUrl, stop: () => app.stop() };
}

interface Result {
  readonly sent: number;
  readonly ok: number;
  readonly seconds: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly cpu: number;
  /** Seconds of CPU of every PostgreSQL process on this machine during the run (none when it is elsewhere). */
  readonly pgCpu: number;
  /** Seconds of CPU of this process (the load generator) during the run. */
  readonly benchCpu: number;
  /** Share of the machine's CPU time (every core) that was busy during the run. */
  readonly machineBusy: number;
  readonly stored: number;
  /** calltrail's transactions during the run: how many, and their mean size and duration. */
  readonly batches: string;
}

/** The sums of the ingest batch histograms of calltrail's /metrics (zeros for the naive server). */
async function batchTotals(server: Server): Promise<{ count: number; size: number; seconds: number }> {
  if (server.name !== 'calltrail') return { count: 0, size: 0, seconds: 0 };
  const text = await (await fetch(`${server.baseUrl}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return { count: value('calltrail_ingest_batch_size_count'), size: value('calltrail_ingest_batch_size_sum'), seconds: value('calltrail_ingest_batch_seconds_sum') };
}

async function batchesSince(server: Server, before: { count: number; size: number; seconds: number }): Promise<string> {
  const now = await batchTotals(server);
  const count = now.count - before.count;
  if (count === 0) return '-';
  return `${fmt(count)}: ${((now.size - before.size) / count).toFixed(1)} callbacks, ${(((now.seconds - before.seconds) / count) * 1000).toFixed(1)} ms`;
}

/** The machine's busy and total CPU time since boot, in clock ticks, from /proc/stat (idle and iowait are not busy). */
function machineTicks(): { busy: number; total: number } {
  const ticks = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = ticks.reduce((a, b) => a + b, 0);
  return { busy: total - ticks[3] - ticks[4], total };
}

interface CpuReading {
  readonly server: number;
  readonly pg: number;
  readonly bench: number;
  readonly machine: { busy: number; total: number };
}

/** CPU of the server, of PostgreSQL and of this process, in seconds, and the machine's ticks, to subtract from a later reading. */
function cpuNow(server: Server): CpuReading {
  const own = process.cpuUsage();
  return { server: cpuMs(server.pid) / 1000, pg: postgresCpuMs() / 1000, bench: (own.user + own.system) / 1e6, machine: machineTicks() };
}

function cpuSince(server: Server, before: CpuReading): { cpu: number; pgCpu: number; benchCpu: number; machineBusy: number } {
  const now = cpuNow(server);
  const busy = (now.machine.busy - before.machine.busy) / Math.max(1, now.machine.total - before.machine.total);
  return { cpu: now.server - before.server, pgCpu: now.pg - before.pg, benchCpu: now.bench - before.bench, machineBusy: busy };
}

/**
 * Daily partitions of `call_events` for the `count` days up to two days ahead, as `EVENT_PARTITION=day` with
 * a long retention leaves them (days the migrations' monthly partitions already cover keep those);
 * returns how many partitions the table then has, the default one included.
 */
async function makeDailyPartitions(dbUrl: string, count: number): Promise<number> {
  await migrate(dbUrl);
  const ds = createDataSource(dbUrl);
  await ds.initialize();
  try {
    const partitions = new EventPartitionRepository(ds);
    const last = Math.floor(Date.now() / 86_400_000) + 3;
    for (let day = last - count; day < last; day++) await partitions.create({ from: day * 86_400, to: (day + 1) * 86_400 });
    return (await partitions.list()).length;
  } finally {
    await ds.destroy();
  }
}

async function stored(dbUrl: string): Promise<number> {
  return (await sql<{ n: number }>(dbUrl, 'SELECT count(*)::int AS n FROM call_events'))[0].n;
}

async function post(pool: Pool, c: Callback): Promise<number> {
  const res = await pool.request({ path: `/callback?${c.query}`, method: 'POST', body: c.body, headers: { 'content-type': 'application/json' } });
  await res.body.dump();
  return res.statusCode;
}

async function closedLoop(server: Server, callbacks: Callback[]): Promise<Result> {
  const pool = new Pool(server.baseUrl, { connections: CLIENTS, pipelining: 1 });
  const before = await stored(server.dbUrl);
  const latencies: number[] = [];
  let next = 0;
  let ok = 0;
  const batches0 = await batchTotals(server);
  const cpu0 = cpuNow(server);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next < callbacks.length) {
        const c = callbacks[next++];
        const t = performance.now();
        const status = await post(pool, c).catch(() => 0);
        latencies.push(performance.now() - t);
        if (status === 200) ok++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const cpu = cpuSince(server, cpu0);
  await pool.close();
  latencies.sort((a, b) => a - b);
  return { sent: callbacks.length, ok, seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies[latencies.length - 1], ...cpu, stored: (await stored(server.dbUrl)) - before, batches: await batchesSince(server, batches0) };
}

async function openLoop(server: Server, callbacks: Callback[]): Promise<Result> {
  const pool = new Pool(server.baseUrl, { connections: 256, pipelining: 1 });
  const before = await stored(server.dbUrl);
  const latencies: number[] = [];
  let ok = 0;
  const batches0 = await batchTotals(server);
  const cpu0 = cpuNow(server);
  const started = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < callbacks.length; i++) {
    const due = started + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    pending.push(
      post(pool, callbacks[i]).then(
        (status) => {
          latencies.push(performance.now() - due);
          if (status === 200) ok++;
        },
        () => void latencies.push(performance.now() - due),
      ),
    );
  }
  await Promise.all(pending);
  const seconds = (performance.now() - started) / 1000;
  const cpu = cpuSince(server, cpu0);
  await pool.close();
  latencies.sort((a, b) => a - b);
  return { sent: callbacks.length, ok, seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies[latencies.length - 1], ...cpu, stored: (await stored(server.dbUrl)) - before, batches: await batchesSince(server, batches0) };
}

const ms = (n: number) => (n < 10 ? n.toFixed(1) : fmt(n));
const row = (label: string, r: Result) => [
  label,
  `${fmt(r.ok)} / ${fmt(r.sent)}`,
  fmt(r.stored),
  fmt(r.sent / r.seconds),
  `${ms(r.p50)} / ${ms(r.p99)} / ${ms(r.max)}`,
  `${((r.cpu * 1000) / r.sent).toFixed(2)} ms`,
  `${((r.pgCpu * 1000) / r.sent).toFixed(2)} ms`,
  `${((r.benchCpu * 1000) / r.sent).toFixed(2)} ms`,
  `${Math.round(r.machineBusy * 100)}%, ${((r.machineBusy * cpus().length * r.seconds * 1000) / r.sent).toFixed(2)} ms`,
  r.batches,
];
const HEADER = ['run', '200 / sent', 'stored', 'callbacks/s', 'latency p50 / p99 / max (ms)', 'server CPU per callback', 'PostgreSQL CPU per callback', 'load generator CPU per callback', 'machine CPU busy, per callback', 'transactions: mean size, time'];
const loadAverage = () => loadavg().map((l) => l.toFixed(2)).join(' ');

async function main() {
  const scratch = new Scratch('ingest');
  try {
    let adminUrl = process.env.BENCH_PG_URL;
    if (!adminUrl) adminUrl = (await BenchPostgres.start(scratch)).adminUrl;
    if (process.env.PG_DELAY_MS) adminUrl = await throughDelayProxy(scratch, adminUrl, process.env.PG_DELAY_MS);
    console.log(`ingest bench: tree ${treeVersion()}, calltrail from ${process.env.APP_ENTRY ?? 'src'}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.versions.node}, load average ${loadAverage()}`);
    console.log(
      `PostgreSQL ${await serverVersion(adminUrl)}${process.env.BENCH_PG_URL ? ' (BENCH_PG_URL)' : ' (own cluster)'}${process.env.PG_DELAY_MS ? `, ${process.env.PG_DELAY_MS} ms each way (PG_DELAY_MS)` : ''}; ` +
        `${CLIENTS} clients closed loop, ${fmt(RATE)}/s open loop for ${OPEN_SECONDS} s`,
    );
    const t0 = Math.floor(Date.now() / 1000) - 3600;
    let db = 0;
    const fresh = async () => {
      const name = `calltrail_ingest_bench_${process.pid}_${db++}`;
      const url = await createDatabase(adminUrl, name);
      return { url, drop: () => dropDatabase(adminUrl, name) };
    };
    const withServer = async <T>(kind: 'naive' | 'calltrail', work: (s: Server) => Promise<T>): Promise<T> => {
      const { url, drop } = await fresh();
      let server: Server | null = null;
      try {
        if (PARTITIONS > 0) console.log(`${kind}: call_events has ${await makeDailyPartitions(url, PARTITIONS)} partitions`);
        server = kind === 'naive' ? await startNaive(scratch, url) : await startCalltrail(scratch, url);
        // A warm-up: connections, JIT, the first partition lookups.
        await closedLoop(server, realistic(`warm-${db}`, 1400, t0 - 7200));
        return await work(server);
      } finally {
        // Also when the server did not start (a bad setting): its database is not left behind.
        await server?.stop();
        await drop();
      }
    };

    const closed: (string | number)[][] = [];
    const open: (string | number)[][] = [];
    const ratios: string[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const perSecond: Record<string, number> = {};
      /** Callbacks per second with every core busy at this run's CPU per callback (the machine's, every process). */
      const ceiling: Record<string, number> = {};
      for (const kind of ['naive', 'calltrail'] as const) {
        await withServer(kind, async (server) => {
          if (ONLY.has('closed')) {
            const r = await closedLoop(server, realistic(`r${round}`, CALLBACKS, t0));
            closed.push(row(`${round} ${kind}, realistic calls`, r));
            perSecond[`${kind} realistic`] = r.sent / r.seconds;
            ceiling[`${kind} realistic`] = r.sent / r.seconds / r.machineBusy;
            const n = await closedLoop(server, newCalls(`n${round}`, CALLBACKS, t0));
            closed.push(row(`${round} ${kind}, new calls`, n));
            perSecond[`${kind} new`] = n.sent / n.seconds;
          }
          if (ONLY.has('open')) {
            const r = await openLoop(server, realistic(`o${round}`, RATE * OPEN_SECONDS, t0));
            open.push(row(`${round} ${kind}, ${fmt(RATE)}/s`, r));
          }
        });
      }
      if (ONLY.has('closed')) {
        ratios.push(
          `round ${round}: calltrail / naive = ${(perSecond['calltrail realistic'] / perSecond['naive realistic']).toFixed(2)}x on realistic calls, ` +
            `${(perSecond['calltrail new'] / perSecond['naive new']).toFixed(2)}x on new calls; ` +
            `with every core busy at the same CPU per callback, realistic calls would reach ${fmt(ceiling['calltrail realistic'])}/s for calltrail ` +
            `(${(ceiling['calltrail realistic'] / perSecond['naive realistic']).toFixed(2)}x the naive server's measured rate) and ${fmt(ceiling['naive realistic'])}/s for the naive server`,
        );
      }
    }
    if (closed.length) {
      console.log(`\nclosed loop, ${CLIENTS} clients, ${fmt(CALLBACKS)} callbacks per run`);
      printTable(HEADER, closed);
      for (const r of ratios) console.log(r);
    }
    if (open.length) {
      console.log(`\nopen loop, ${fmt(RATE)} callbacks/s for ${OPEN_SECONDS} s (latency from when each was due)`);
      printTable(HEADER, open);
    }
    if (ONLY.has('group')) {
      const group: (string | number)[][] = [];
      const ratio: string[] = [];
      for (let round = 1; round <= ROUNDS; round++) {
        await withServer('calltrail', async (server) => {
          const big = groupCall(`group-${round}`, GROUP_SIZE, t0);
          const small = spread(big, `small-${round}`);
          const s = await closedLoop(server, small);
          const g = await closedLoop(server, big);
          group.push(row(`${round} ${fmt(big.length)} callbacks over 7-callback calls`, s));
          group.push(row(`${round} the same in one ${fmt(GROUP_SIZE)}-participant call`, g));
          ratio.push(`round ${round}: one group call / small calls = ${(s.seconds / g.seconds).toFixed(2)}x the throughput`);
        });
      }
      console.log(`\ngroup call, calltrail, ${CLIENTS} clients closed loop`);
      printTable(HEADER, group);
      for (const r of ratio) console.log(r);
    }
    console.log(`\nload average at the end ${loadAverage()}`);
  } finally {
    await scratch.cleanup();
  }
}

run(main);
