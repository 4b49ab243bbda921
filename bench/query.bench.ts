/**
 * The main reads at production size, from outside, next to what PostgreSQL itself serves for the same
 * SQL. A seeded database (bench/seed.ts: 1M calls by default, made once and kept) is served by calltrail
 * as a child process (bench/harness.ts, NODE_ENV=production); each read runs for DURATION seconds from
 * CLIENTS concurrent clients (one API key each, scoped to one app) with random users and calls, then
 * pgbench runs the read's SQL with the same concurrency and the same random choices. Reported per read:
 * req/s, p50, p99, calltrail CPU per request and PostgreSQL's (from /proc: every `postgres` process, so
 * PostgreSQL must run on this machine for that column), the PostgreSQL floor in tps, and the ratio.
 * Reads of one statement are also served, under the same load, by bench/bare-read-server.ts (node:http
 * and `pg` running the floor's statement, nothing else): what it reaches of the floor bounds what any
 * Node server on `pg` can reach here (`BARE=off` skips it).
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench:query
 *   BENCH_CALLS=100000 DURATION=5 CLIENTS=10 ONLY=history,stats npm run bench:query
 *
 * Reads: typename, history, count, call, video, board, historywho (listings whose calls show their
 * participants), page50, stats, stats10 (daily figures a rollup can answer),
 * statsp95, statsp95x10 (the same with a 95th percentile, which only raw calls can give). The floor of a
 * stats read is the raw scan of `calls` for the same aggregates.
 */
import { spawn } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { Agent } from 'undici';
import { BenchApp, REPO, Scratch, fmt, freePort, printTable, serverVersion, sql, treeVersion, waitFor } from './harness';
import { createScopedKey, loadAverage, num } from './bulkhead-support';
import type { BareReads } from './bare-read-server';
import { APP, Choices, load, page50Cursor, pgbench, reads, type Read } from './query-reads';
import { SEED_APPS, seedDatabase } from './seed';
import { run } from './support';

const CALLS = num('BENCH_CALLS', 1_000_000);
const DURATION = num('DURATION', 10);
const CLIENTS = num('CLIENTS', 10);

/** bench/bare-read-server.ts over `url`, serving the reads that have a bare statement. */
async function startBare(scratch: Scratch, url: string, chosen: readonly Read[]): Promise<{ baseUrl: string; pid: number }> {
  const bare: BareReads = {};
  for (const r of chosen) if (r.bare) bare[r.query] = r.bare;
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/bare-read-server.ts'], {
    cwd: REPO,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', DATABASE_URL: url, PORT: String(port), BARE_POOL: String(CLIENTS), BARE_READS: JSON.stringify(bare) },
    detached: true,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  scratch.registerGroup(child.pid!);
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  scratch.onCleanup(
    async () => {
      if (exited()) return;
      child.kill('SIGTERM');
      if (!(await waitFor(exited, 5000))) child.kill('SIGKILL');
    },
    () => child.kill('SIGKILL'),
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`bare read server exited ${code}`)));
  });
  return { baseUrl: `http://127.0.0.1:${port}`, pid: child.pid! };
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
    const cursor = await page50Cursor(app, agent, keys[0]);
    const choices = new Choices(info);
    const only = process.env.ONLY?.split(',');
    const rows: (string | number)[][] = [];
    const chosen = reads(info, cursor, CLIENTS).filter((r) => !only || only.includes(r.name));
    const bare = process.env.BARE !== 'off' && chosen.some((r) => r.bare) ? await startBare(scratch, info.url, chosen) : null;
    for (const read of chosen) {
      const opts = { clients: CLIENTS, seconds: DURATION };
      await load(app, agent, keys, { ...read }, choices, opts).catch(() => undefined); // warm-up: plans, JIT, caches
      const r = await load(app, agent, keys, read, choices, opts);
      let b: Awaited<ReturnType<typeof load>> | null = null;
      if (bare && read.bare) {
        await load(bare, agent, keys, read, choices, opts).catch(() => undefined);
        b = await load(bare, agent, keys, read, choices, opts);
      }
      const floor = pgbench(scratch, info.url, read, info, opts);
      rows.push([
        read.label,
        `${fmt(r.rps)} req/s, ${r.p50.toFixed(1)} ms, ${r.p99.toFixed(1)} ms${r.errors ? ` (${r.errors} errors: ${r.firstError.slice(0, 80)})` : ''}`,
        floor === null ? '-' : `${fmt(floor)} tps`,
        floor === null ? '-' : `${((100 * r.rps) / floor).toFixed(0)}%`,
        `${r.cpuPerRequest.toFixed(2)} ms`,
        `${r.pgCpuPerRequest.toFixed(2)} ms`,
        b === null ? '-' : `${fmt(b.rps)} req/s${floor === null ? '' : `, ${((100 * b.rps) / floor).toFixed(0)}%`}, ${b.cpuPerRequest.toFixed(2)} ms${b.errors ? ` (${b.errors} errors)` : ''}`,
      ]);
      console.log(`  ${read.name} done`);
    }
    console.log(`\n${DURATION} s per read, ${CLIENTS} clients unless noted; load average ${loadAverage()}\n`);
    printTable(
      ['read', 'calltrail req/s, p50, p99', 'PostgreSQL floor (same SQL, pgbench)', 'of floor', 'calltrail CPU per request', 'PostgreSQL CPU per request', 'bare node:http + pg: req/s, of floor, CPU per request'],
      rows,
    );
    await agent.close();
  } finally {
    await scratch.cleanup();
  }
}

run(main);
