/**
 * Partitioned `call_events` at two sizes, measured in one run: the main reads, 30-day stats and ingest
 * throughput on a 1M-call database (SMALL, about 7.3M events) next to a 10M-event one (LARGE, about 1.37M
 * calls), alternating SMALL, LARGE, SMALL, LARGE; then the time to drop the oldest partition of a copy of
 * LARGE while callbacks keep arriving, and their latency around the drop.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npx tsx bench/size.bench.ts
 *   SMALL=calltrail_seed_1000000_1_partitioned LARGE_CALLS=1370000 ROUNDS=2 DURATION=10 ONLY=history,call npx tsx bench/size.bench.ts
 *
 * SMALL is made by bench/partition-migration.bench.ts (a seeded database, partitioned by the migration);
 * LARGE by bench/seed.ts (`--calls LARGE_CALLS`), seeded straight into the partitioned layout; both are kept.
 * Ingest: INGEST_CLIENTS (50) senders post realistic calls (bench/dataset.ts: about 7 callbacks each, the
 * callbacks of a call in order, calls interleaved) for DURATION seconds, with event times of the last hour.
 */
import 'reflect-metadata';
import { cpus, totalmem } from 'node:os';
import { Agent, request } from 'undici';
import { EventMaintenance } from '../src/calls/event-maintenance';
import { StatsRollupRepository } from '../src/calls/stats-rollup.repository';
import { EventPartitionRepository } from '../src/db/event-partitions.repository';
import { createDataSource } from '../src/db/database';
import { createScopedKey, loadAverage, num } from './bulkhead-support';
import { callCallbacks, prng, type SeedCallback } from './dataset';
import { BenchApp, Scratch, fmt, percentile, printTable, serverVersion, sleep, sql, treeVersion } from './harness';
import { APP, Choices, load, page50Cursor, reads } from './query-reads';
import { readInfo, SEED_APPS, seedDatabase, type SeedInfo } from './seed';
import { run } from './support';

const DURATION = num('DURATION', 10);
const CLIENTS = num('CLIENTS', 10);
const ROUNDS = num('ROUNDS', 2);
const INGEST_CLIENTS = num('INGEST_CLIENTS', 50);
const LARGE_CALLS = num('LARGE_CALLS', 1_370_000);
const READS = (process.env.ONLY ?? 'history,call,video,page50,stats,stats10').split(',');
const DAY = 86_400;

interface Figures {
  /** Per read: req/s and p99 of each round. */
  reads: Map<string, { rps: number; p99: number }[]>;
  ingest: { rps: number; p99: number; failed: number }[];
}

/** POSTs one callback as Tencent does; resolves with the HTTP status. */
async function send(app: BenchApp, agent: Agent, cb: SeedCallback): Promise<number> {
  const res = await request(`${app.baseUrl}/callback?${new URLSearchParams(cb.query)}`, {
    method: 'POST',
    dispatcher: agent,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(cb.body),
  });
  await res.body.text();
  return res.statusCode;
}

/** Posts every callback of a stream of new calls from `clients` senders for `seconds`; callbacks/s and p99. */
async function ingest(app: BenchApp, agent: Agent, firstCall: number, seconds: number, clients: number) {
  const rand = prng(firstCall);
  const now = Math.floor(Date.now() / 1000);
  const options = { apps: SEED_APPS, users: 100_000, from: now - 3600, to: now - 600 };
  let next = firstCall;
  const pending: SeedCallback[] = [];
  const take = (): SeedCallback => {
    // Calls interleave: each sender takes the next callback of a shared queue refilled call by call.
    while (pending.length < clients * 2) pending.push(...callCallbacks(next++, rand, options));
    return pending.shift()!;
  };
  const latencies: number[] = [];
  let failed = 0;
  const until = performance.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < until) {
        const cb = take();
        const started = performance.now();
        const status = await send(app, agent, cb);
        if (status === 200) latencies.push(performance.now() - started);
        else failed++;
      }
    }),
  );
  return { rps: latencies.length / ((performance.now() - t0) / 1000), p99: percentile(latencies, 99), failed };
}

async function measure(scratch: Scratch, info: SeedInfo, round: number, figures: Figures): Promise<void> {
  const runId = `${Date.now().toString(36)}-${round}`;
  const keys = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => createScopedKey(info.url, `bench-size-${runId}-${i}`, [APP])));
  const app = await BenchApp.start(scratch, { databaseUrl: info.url, env: { NODE_ENV: 'production', SDKAPPIDS: SEED_APPS.join(','), LIVE_POLL_MS: '60000' } });
  const agent = new Agent({ connections: Math.max(CLIENTS, INGEST_CLIENTS), keepAliveTimeout: 30_000 });
  try {
    await app.waitReady();
    const cursor = await page50Cursor(app, agent, keys[0]);
    const choices = new Choices(info);
    for (const read of reads(info, cursor, CLIENTS).filter((r) => READS.includes(r.name))) {
      await load(app, agent, keys, read, choices, { clients: CLIENTS, seconds: Math.min(3, DURATION) }).catch(() => undefined); // warm-up
      const r = await load(app, agent, keys, read, choices, { clients: CLIENTS, seconds: DURATION });
      if (r.errors > 0) console.log(`  ${read.name}: ${r.errors} errors, first: ${r.firstError.slice(0, 200)}`);
      const list = figures.reads.get(read.label) ?? [];
      list.push({ rps: r.rps, p99: r.p99 });
      figures.reads.set(read.label, list);
    }
    // New calls far above the seeded numbers, so ingest stores (and folds) every callback.
    const r = await ingest(app, agent, 50_000_000 + round * 1_000_000 + (info.calls % 1000), DURATION, INGEST_CLIENTS);
    figures.ingest.push(r);
  } finally {
    await agent.close();
    await app.stop();
    await sql(info.url, `DELETE FROM api_keys WHERE name LIKE $1`, [`bench-size-${runId}-%`]);
  }
}

/** Drops the oldest partition of a copy of `info`'s database while callbacks arrive at 200/s; the drop's time and the callbacks' latency around it. */
async function dropWhileIngesting(scratch: Scratch, adminUrl: string, info: SeedInfo): Promise<(string | number)[][]> {
  const source = new URL(info.url).pathname.slice(1);
  const copy = `${source}_dropcopy`;
  await sql(adminUrl, `DROP DATABASE IF EXISTS "${copy}" WITH (FORCE)`);
  const copyStarted = performance.now();
  await sql(adminUrl, `CREATE DATABASE "${copy}" TEMPLATE "${source}"`);
  console.log(`  copy of ${source} made in ${((performance.now() - copyStarted) / 1000).toFixed(0)} s`);
  const url = info.url.replace(/\/[^/]*$/, `/${copy}`);
  const app = await BenchApp.start(scratch, { databaseUrl: url, env: { NODE_ENV: 'production', SDKAPPIDS: SEED_APPS.join(','), LIVE_POLL_MS: '60000' } });
  const dataSource = createDataSource(url, { size: 2, statementTimeoutMs: 0, name: 'calltrail-bench-retention' });
  const agent = new Agent({ connections: 64 });
  try {
    await app.waitReady();
    await dataSource.initialize();
    const partitions = new EventPartitionRepository(dataSource);
    const oldest = (await partitions.list()).find((p) => p.range !== null)!;
    const [{ rows }] = await sql<{ rows: string }>(url, `SELECT count(*)::text AS rows FROM ${oldest.name}`);
    const [{ size }] = await sql<{ size: string }>(url, `SELECT pg_size_pretty(pg_total_relation_size('${oldest.name}')) AS size`);
    // Retention just short enough to take the oldest partition (its end plus the day of grace), as a second replica runs it.
    const retentionDays = Math.floor((Date.now() / 1000 - oldest.range!.to) / DAY) - 2;
    const maintenance = new EventMaintenance({
      partitions,
      interval: 'month',
      ahead: 2,
      retentionDays,
      callRetentionDays: null,
      intervalMs: 3_600_000,
      exclusive: async (work) => ({ acquired: true, value: await work() }),
    });
    const samples: { at: number; ms: number; ok: boolean }[] = [];
    let sending = true;
    const rand = prng(7);
    const now = Math.floor(Date.now() / 1000);
    const options = { apps: SEED_APPS, users: 100_000, from: now - 3600, to: now - 600 };
    let callNo = 90_000_000;
    const queue: SeedCallback[] = [];
    const sender = (async () => {
      const inFlight: Promise<void>[] = [];
      for (let i = 0; sending; i++) {
        if (queue.length === 0) queue.push(...callCallbacks(callNo++, rand, options));
        const cb = queue.shift()!;
        const started = performance.now();
        inFlight.push(
          send(app, agent, cb)
            .then((status) => {
              samples.push({ at: started, ms: performance.now() - started, ok: status === 200 });
            })
            .catch(() => {
              samples.push({ at: started, ms: performance.now() - started, ok: false });
            }),
        );
        await sleep(5); // about 200 callbacks/s
      }
      await Promise.all(inFlight);
    })();
    await sleep(5000);
    const dropStarted = performance.now();
    const report = await maintenance.runNow();
    const dropEnded = performance.now();
    await sleep(5000);
    sending = false;
    await sender;
    if (report.outcome !== 'ok') throw new Error(`retention run: ${report.outcome} ${String(report.error)}`);
    const during = samples.filter((s) => s.at + s.ms >= dropStarted && s.at <= dropEnded);
    const before = samples.filter((s) => s.at + s.ms < dropStarted);
    return [
      [
        `${oldest.name}: ${fmt(Number(rows))} events, ${size}`,
        `${(dropEnded - dropStarted).toFixed(0)} ms (dropped: ${report.dropped.join(', ') || 'none'})`,
        `${fmt(samples.length)}, ${samples.filter((s) => !s.ok).length} not 200`,
        `${percentile(before.map((s) => s.ms), 99).toFixed(1)} ms`,
        during.length === 0 ? '-' : `${during.length} callbacks, max ${Math.max(...during.map((s) => s.ms)).toFixed(1)} ms`,
        `${percentile(samples.map((s) => s.ms), 99).toFixed(1)} ms`,
      ],
    ];
  } finally {
    await agent.close();
    if (dataSource.isInitialized) await dataSource.destroy();
    await app.stop();
    await sql(adminUrl, `DROP DATABASE IF EXISTS "${copy}" WITH (FORCE)`);
  }
}

/** Sums every hour the stats rollup has marked, with no statement timeout; returns how many. */
async function drainRollup(url: string): Promise<number> {
  const dataSource = createDataSource(url, { size: 1, statementTimeoutMs: 0, name: 'calltrail-bench-rollup' });
  await dataSource.initialize();
  try {
    const rollup = new StatsRollupRepository(dataSource);
    let total = 0;
    for (let n = 1; n > 0; total += n) n = (await rollup.refresh(200)) ?? 0;
    return total;
  } finally {
    await dataSource.destroy();
  }
}

async function main() {
  const adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) throw new Error('bench/size.bench.ts: set DATABASE_URL (the seeded databases are kept on that server)');
  const scratch = new Scratch('size');
  try {
    console.log(`size bench: tree ${treeVersion()}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, load average ${loadAverage()}`);
    const smallName = process.env.SMALL ?? 'calltrail_seed_1000000_1_partitioned';
    const small = await readInfo(adminUrl.replace(/\/[^/]*$/, `/${smallName}`));
    if (!small) throw new Error(`${smallName}: expected a seeded database (run bench/partition-migration.bench.ts first)`);
    const large = await seedDatabase(adminUrl, LARGE_CALLS);
    console.log(`PostgreSQL ${await serverVersion(adminUrl)}; SMALL ${fmt(small.calls)} calls, ${fmt(small.events)} events; LARGE ${fmt(large.calls)} calls, ${fmt(large.events)} events`);
    // A seed writes calls with no server running: the rollup's marked hours are summed now, as a server would have.
    for (const info of [small, large]) console.log(`  rollup of ${fmt(info.calls)} calls: ${await drainRollup(info.url)} hours summed`);
    const figures = new Map<SeedInfo, Figures>([small, large].map((i) => [i, { reads: new Map(), ingest: [] }]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const info of [small, large]) {
        console.log(`  round ${round + 1}: ${fmt(info.events)} events, load average ${loadAverage()}`);
        await measure(scratch, info, round, figures.get(info)!);
      }
    }
    const median = (xs: number[]) => percentile(xs, 50);
    const cell = (xs: { rps: number; p99: number }[]) => `${fmt(median(xs.map((x) => x.rps)))}/s, p99 ${median(xs.map((x) => x.p99)).toFixed(1)} ms`;
    const rows: (string | number)[][] = [];
    const s = figures.get(small)!;
    const l = figures.get(large)!;
    for (const [label, xs] of s.reads) {
      const ys = l.reads.get(label)!;
      rows.push([label, cell(xs), cell(ys), `${((100 * median(ys.map((y) => y.rps))) / median(xs.map((x) => x.rps))).toFixed(0)}%`]);
    }
    rows.push([
      `ingest, ${INGEST_CLIENTS} senders, realistic calls`,
      `${cell(s.ingest)}${s.ingest.some((x) => x.failed) ? ` (${s.ingest.map((x) => x.failed).join('/')} not 200)` : ''}`,
      `${cell(l.ingest)}${l.ingest.some((x) => x.failed) ? ` (${l.ingest.map((x) => x.failed).join('/')} not 200)` : ''}`,
      `${((100 * median(l.ingest.map((y) => y.rps))) / median(s.ingest.map((x) => x.rps))).toFixed(0)}%`,
    ]);
    console.log(`\nmedians of ${ROUNDS} alternating rounds, ${DURATION} s each, ${CLIENTS} clients for reads unless noted; load average ${loadAverage()}\n`);
    printTable(['read', `SMALL: ${fmt(small.events)} events`, `LARGE: ${fmt(large.events)} events`, 'LARGE / SMALL'], rows);
    console.log('\npartition drop (retention) on a copy of LARGE, callbacks at about 200/s\n');
    printTable(['partition', 'drop (retention run)', 'callbacks sent', 'p99 before', 'callbacks in flight during the drop', 'p99 overall'], await dropWhileIngesting(scratch, adminUrl, large));
  } finally {
    await scratch.cleanup();
  }
}

run(main);
