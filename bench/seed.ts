/**
 * Seeds a realistic dataset the way ingest writes it: bench/dataset.ts makes every v1 callback of each
 * call, the v1 parser normalises them, and `IngestRepository.writeBatch` stores them (events, then the
 * calls and participants folded by `foldCall`), a thousand calls per transaction. The database is kept
 * and reused by the next run with the same size and seed (`calltrail_seed_<calls>_<seed>`), so the
 * query benches do not pay for it each time; `--fresh` drops it first.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npx tsx bench/seed.ts            # 1M calls
 *   DATABASE_URL=... npx tsx bench/seed.ts --calls 100000 --seed 7
 */
import 'reflect-metadata';
import { Client } from 'pg';
import { StatsRollupRepository } from '../src/calls/stats-rollup.repository';
import { EventPartitionRepository } from '../src/db/event-partitions.repository';
import { createDataSource, ensureDatabase, migrate } from '../src/db/database';
import { intervalStart, nextIntervalStart, uncovered } from '../src/domain/partition-ranges';
import { IngestRepository } from '../src/ingest/ingest.repository';
import { parseV1Callback, type CallbackEvent } from '../src/ingest/trtc-v1.schema';
import { callCallbacks, prng, type DatasetOptions } from './dataset';

export const SEED_APPS = ['1400000001', '1400000002'] as const;
const CHUNK = 1000;

/** What a seeded database holds (kept in its `bench_seed` table). */
export interface SeedInfo {
  readonly url: string;
  readonly calls: number;
  readonly events: number;
  readonly users: number;
  /** Unix seconds: calls start in [from, to). */
  readonly from: number;
  readonly to: number;
  readonly seconds: number;
}

const DAY = 86_400;

/** A seeded database of `calls` calls on the server of `adminUrl`, made if missing. */
export async function seedDatabase(adminUrl: string, calls: number, seed = 1, opts: { fresh?: boolean; log?: (line: string) => void } = {}): Promise<SeedInfo> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const name = `calltrail_seed_${calls}_${seed}`;
  const url = adminUrl.replace(/\/[^/]*$/, `/${name}`);
  if (opts.fresh) await adminQuery(adminUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await ensureDatabase(adminUrl, name);
  await migrate(url);
  const existing = await readInfo(url);
  if (existing) return existing;

  const users = Math.max(1000, Math.round(calls / 10));
  // Thirty days ending at the start of today (UTC): the window is fixed once seeded.
  const to = Math.floor(Date.now() / 1000 / DAY) * DAY;
  const options: DatasetOptions = { apps: SEED_APPS, users, from: to - 30 * DAY, to };
  const dataSource = createDataSource(url, { size: 2, statementTimeoutMs: 0, name: 'calltrail-seed' });
  await dataSource.initialize();
  const started = performance.now();
  let events = 0;
  try {
    await dataSource.query('TRUNCATE call_events, calls, call_participants RESTART IDENTITY CASCADE');
    // The partitions of the window, as a running server makes them (the migration only makes those around now).
    const partitions = new EventPartitionRepository(dataSource);
    const existing = (await partitions.list()).flatMap((p) => (p.range ? [p.range] : []));
    for (let month = intervalStart(options.from, 'month'); month < to; month = nextIntervalStart(month, 'month')) {
      for (const range of uncovered({ from: month, to: nextIntervalStart(month, 'month') }, existing)) await partitions.create(range);
    }
    const repository = new IngestRepository(dataSource);
    const rand = prng(seed);
    let writing: Promise<unknown> = Promise.resolve();
    for (let n = 0; n < calls; n += CHUNK) {
      const chunk = makeChunk(n, Math.min(n + CHUNK, calls), rand, options); // built while the previous chunk is written
      await writing;
      events += chunk.length;
      writing = repository.writeBatch(chunk);
      if ((n / CHUNK) % Math.max(1, Math.round(calls / CHUNK / 20)) === 0) {
        log(`seed: ${n.toLocaleString('en-US')} of ${calls.toLocaleString('en-US')} calls, ${((performance.now() - started) / 1000).toFixed(0)} s`);
      }
    }
    await writing;
    // At rest, as a database that has been serving for a while: the stats rollup up to date (the triggers
    // marked every hour the seed wrote) and the tables vacuumed, so the first bench does not measure a
    // refresher and autovacuum catching up.
    const rollups = new StatsRollupRepository(dataSource);
    while (((await rollups.refresh(1000)) ?? 1) > 0);
    await dataSource.query('VACUUM (ANALYZE)');
    const seconds = (performance.now() - started) / 1000;
    await dataSource.query(`CREATE TABLE bench_seed (calls int, events int, users int, window_from bigint, window_to bigint, seconds float8)`);
    await dataSource.query('INSERT INTO bench_seed VALUES ($1, $2, $3, $4, $5, $6)', [calls, events, users, options.from, to, seconds]);
    log(`seed: ${calls.toLocaleString('en-US')} calls, ${events.toLocaleString('en-US')} events in ${seconds.toFixed(0)} s`);
  } finally {
    await dataSource.destroy();
  }
  return (await readInfo(url))!;
}

function makeChunk(from: number, to: number, rand: () => number, options: DatasetOptions): CallbackEvent[] {
  const out: CallbackEvent[] = [];
  for (let n = from; n < to; n++) {
    for (const cb of callCallbacks(n, rand, options)) out.push(parseV1Callback(cb.query.sdkappid, cb.query, cb.body));
  }
  return out;
}

export async function readInfo(url: string): Promise<SeedInfo | null> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const found = await client.query(`SELECT to_regclass('bench_seed') IS NOT NULL AS ok`);
    if (!found.rows[0].ok) return null;
    const { rows } = await client.query('SELECT * FROM bench_seed');
    if (rows.length === 0) return null;
    const r = rows[0];
    return { url, calls: r.calls, events: r.events, users: r.users, from: Number(r.window_from), to: Number(r.window_to), seconds: r.seconds };
  } finally {
    await client.end();
  }
}

async function adminQuery(adminUrl: string, sql: string): Promise<void> {
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  await client.query(sql).finally(() => client.end());
}

if (require.main === module) {
  const arg = (name: string, fallback: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : fallback;
  };
  const adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    console.error('bench/seed.ts: set DATABASE_URL to the server to seed (a database named calltrail_seed_<calls>_<seed> is made there)');
    process.exit(2);
  }
  seedDatabase(adminUrl, Number(arg('calls', '1000000')), Number(arg('seed', '1')), { fresh: process.argv.includes('--fresh') }).then(
    (info) => {
      console.log(JSON.stringify(info));
      process.exit(0);
    },
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
