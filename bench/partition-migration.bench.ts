/**
 * Times the migration that partitions `call_events` (PartitionCallEvents) on a copy of a database seeded
 * before it existed, and reports its time per million events. The copy is kept, partitioned, as
 * `<source>_partitioned` (the size bench reads it as the 1M-call figure).
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npx tsx bench/partition-migration.bench.ts --from calltrail_seed_1000000_1
 *
 * The source must be at the migration before PartitionCallEvents (a database seeded by an older
 * calltrail, or one made with `npm run migrate:revert` after it).
 */
import 'reflect-metadata';
import { loadavg } from 'node:os';
import { Client } from 'pg';
import { migrate } from '../src/db/database';

async function query<T>(url: string, sql: string): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end();
  }
}

async function main(): Promise<void> {
  const adminUrl = process.env.DATABASE_URL;
  const i = process.argv.indexOf('--from');
  const source = i >= 0 ? process.argv[i + 1] : 'calltrail_seed_1000000_1';
  if (!adminUrl) throw new Error('set DATABASE_URL to the server holding the source database');
  const target = `${source}_partitioned`;
  const url = adminUrl.replace(/\/[^/]*$/, `/${target}`);
  const sourceUrl = adminUrl.replace(/\/[^/]*$/, `/${source}`);
  const applied = await query<{ n: number }>(sourceUrl, `SELECT count(*)::int AS n FROM migrations WHERE name = 'PartitionCallEvents1795800000000'`);
  if (applied[0].n > 0) throw new Error(`${source}: expected a database before PartitionCallEvents, got one already partitioned`);
  await query(adminUrl, `DROP DATABASE IF EXISTS "${target}" WITH (FORCE)`);
  const copyStarted = performance.now();
  await query(adminUrl, `CREATE DATABASE "${target}" TEMPLATE "${source}"`);
  const copySeconds = (performance.now() - copyStarted) / 1000;
  const [{ events, bytes }] = await query<{ events: string; bytes: string }>(url, `SELECT count(*)::text AS events, pg_total_relation_size('call_events')::text AS bytes FROM call_events`);
  await query(url, 'CHECKPOINT');
  const load = loadavg()[0];
  const started = performance.now();
  await migrate(url);
  const seconds = (performance.now() - started) / 1000;
  const parts = await query<{ p: string; n: string }>(url, `SELECT tableoid::regclass::text AS p, count(*)::text AS n FROM call_events GROUP BY 1 ORDER BY 1`);
  const [{ after }] = await query<{ after: string }>(url, `SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid))) AS after FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'call_events'::regclass`);
  const millions = Number(events) / 1e6;
  console.log(`| events | table before | migration | per million events | load avg 1 min at start | partitions (rows) | size after |`);
  console.log(`|---|---|---|---|---|---|---|`);
  console.log(
    `| ${Number(events).toLocaleString('en-US')} | ${(Number(bytes) / 2 ** 20).toFixed(0)} MiB | ${seconds.toFixed(1)} s | ${(seconds / millions).toFixed(1)} s | ${load.toFixed(1)} | ${parts.map((r) => `${r.p} (${Number(r.n).toLocaleString('en-US')})`).join(', ')} | ${after} |`,
  );
  console.log(`(copy of ${source} made in ${copySeconds.toFixed(0)} s, kept as ${target})`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
