/**
 * calltrail's own CPU per read, steadier than bench/query.bench.ts on a noisy machine: the app runs
 * inside a child process with no socket and no load generator beside it, and requests go through
 * Fastify's `inject` (4 at a time, the per-key limit), on the seeded database of bench/seed.ts. The
 * figure counts everything the process does for a request, `inject` included (about 0.3 ms of it),
 * so it is for comparing trees, not for quoting as a server's cost.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench:read-cpu
 *   TREES=/path/to/older/checkout,. ROUNDS=3 REQUESTS=3000 ONLY=history,video npx tsx bench/read-cpu.bench.ts
 *
 * TREES lists built checkouts (`npm run build` in each; `.` is this one); their runs alternate
 * (A, B, A, B) and each cell shows every round's figure. APP_NODE_ARGS are Node flags for each child,
 * e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" (a profile per tree and round).
 */
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { fmt, printTable, sql, treeVersion } from './harness';
import { createScopedKey, loadAverage, num } from './bulkhead-support';
import { APP, Choices, reads } from './query-reads';
import { SEED_APPS, seedDatabase, type SeedInfo } from './seed';
import { run } from './support';

const CALLS = num('BENCH_CALLS', 1_000_000);
const ROUNDS = num('ROUNDS', 2);
const REQUESTS = num('REQUESTS', 3000);
// page50 needs a cursor made over HTTP first (bench/query.bench.ts); every other read of bench/query-reads.ts runs here.
const NAMES = (process.env.ONLY ?? 'typename,history,call,video').split(',').filter((n) => n !== 'page50');
const APP_NODE_ARGS = (process.env.APP_NODE_ARGS ?? '').split(' ').filter(Boolean);
// As a deployment runs (the image sets it): graphql-js reads it once, and outside production its type checks take a slower path.
const CHILD_ENV = { ...process.env, NODE_ENV: 'production' };

/** One tree's run, in this process: CPU ms per request of each read. */
async function child(tree: string, info: SeedInfo, key: string): Promise<Record<string, number>> {
  // The measured tree's own build, so an older checkout is measured as it was.
  const load = (path: string) => require(resolve(tree, 'dist/src', path));
  require(resolve(tree, 'node_modules/reflect-metadata'));
  const config = load('config').loadConfig({ DATABASE_URL: info.url, NODE_ENV: 'production', SDKAPPIDS: SEED_APPS.join(','), LIVE_POLL_MS: '60000', LOG_LEVEL: 'warn' });
  const db = await load('db/database').openDatabase(config, () => undefined);
  const app = await load('http/app').createApp(config, { db });
  const choices = new Choices(info);
  const out: Record<string, number> = {};
  try {
    for (const read of reads(info, '', 4).filter((r) => NAMES.includes(r.name))) {
      let sent = 0;
      const once = async () => {
        const res = await app.server.inject({
          method: 'POST',
          url: '/graphql',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
          payload: JSON.stringify({ query: read.query, variables: read.variables(choices) }),
        });
        if (res.statusCode !== 200 || res.body.includes('"errors"')) throw new Error(`${read.name}: HTTP ${res.statusCode}: ${res.body.slice(0, 300)}`);
      };
      const loop = async (n: number) => {
        sent = 0;
        await Promise.all(Array.from({ length: 4 }, async () => {
          while (sent < n) {
            sent++;
            await once();
          }
        }));
      };
      await loop(Math.min(500, REQUESTS)); // warm-up: JIT, plans, caches
      const before = process.cpuUsage();
      await loop(REQUESTS);
      const used = process.cpuUsage(before);
      out[read.name] = (used.user + used.system) / 1000 / REQUESTS;
    }
  } finally {
    await app.close();
    await db.close();
  }
  return out;
}

async function main() {
  const adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) throw new Error('bench/read-cpu.bench.ts: set DATABASE_URL (the seeded database is kept on that server for the next run)');
  const info = await seedDatabase(adminUrl, CALLS);
  if (process.argv[2] === '--child') {
    const result = await child(process.argv[3], info, process.argv[4]);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    process.exit(0);
  }
  console.log(`read CPU bench: tree ${treeVersion()}, ${cpus().length} cores, load average ${loadAverage()}; ${fmt(info.calls)} calls, ${REQUESTS} requests per read`);
  const trees = (process.env.TREES ?? '.').split(',').map((t) => resolve(t));
  const name = `bench-read-cpu-${Date.now().toString(36)}`;
  const key = await createScopedKey(info.url, name, [APP]);
  const figures = new Map<string, number[]>(); // `${tree}\t${read}` -> one per round
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      for (const tree of trees) {
        const line = execFileSync(process.execPath, [...APP_NODE_ARGS, '--import', 'tsx', __filename, '--child', tree, key], { env: CHILD_ENV, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
        const result = JSON.parse(line.trim().split('\n').at(-1)!) as Record<string, number>;
        for (const [read, ms] of Object.entries(result)) figures.set(`${tree}\t${read}`, [...(figures.get(`${tree}\t${read}`) ?? []), ms]);
        console.log(`  round ${round}, ${tree}: ${Object.entries(result).map(([r, ms]) => `${r} ${ms.toFixed(3)} ms`).join(', ')}`);
      }
    }
  } finally {
    await sql(info.url, `DELETE FROM api_keys WHERE name = $1`, [name]);
  }
  console.log(`\nCPU ms per request (every round), load average ${loadAverage()}\n`);
  const labels = reads(info, '', 4).filter((r) => NAMES.includes(r.name));
  printTable(['read', ...trees], labels.map((r) => [r.label, ...trees.map((t) => (figures.get(`${t}\t${r.name}`) ?? []).map((ms) => ms.toFixed(2)).join(', '))]));
}

run(main);
