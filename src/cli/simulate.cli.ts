import { randomInt } from 'node:crypto';
import { parseArgs } from 'node:util';
import { TENCENT_RETRY_DELAYS_MS } from '../simulator/sender';
import { formatReport, runSimulation } from '../simulator/simulation';
import type { TrafficOptions } from '../simulator/traffic';

/** `npm run simulate`: realistic TRTC Call traffic over HTTP against a running calltrail. Needs no database. */
const USAGE = `usage: npm run --silent simulate -- [--url http://localhost:8080] [--rate 20] [--duration 60] [--apps 8888888]
    [--token SECRET] [--sign-token TOKEN] [--seed N] [--v4 | --v4-share 0.3] [--speed 10] [--users 200]
    [--duplicates 0.03] [--late 0.05] [--path /callback] [--max-in-flight 256] [--json]`;

const OPTIONS = {
  url: { type: 'string', default: 'http://localhost:8080' },
  path: { type: 'string', default: '/callback' },
  rate: { type: 'string', default: '20' },
  duration: { type: 'string', default: '60' },
  apps: { type: 'string', default: '8888888' },
  token: { type: 'string' },
  'sign-token': { type: 'string' },
  seed: { type: 'string' },
  v4: { type: 'boolean', default: false },
  'v4-share': { type: 'string' },
  speed: { type: 'string', default: '10' },
  users: { type: 'string', default: '200' },
  duplicates: { type: 'string', default: '0.03' },
  late: { type: 'string', default: '0.05' },
  'max-in-flight': { type: 'string', default: '256' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', default: false },
} as const;

/** A number option, or an error naming it. */
function numberOf(name: string, text: string, check: (n: number) => boolean, expected: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || !check(n)) throw new Error(`--${name}: expected ${expected}, got ${JSON.stringify(text)}\n${USAGE}`);
  return n;
}

function trafficOptions(v: ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>['values'], seed: number): TrafficOptions {
  const share = (name: string, text: string) => numberOf(name, text, (n) => n >= 0 && n <= 1, 'a share from 0 to 1');
  const startMs = Date.now();
  return {
    seed,
    rate: numberOf('rate', v.rate, (n) => n > 0, 'callbacks per second, above 0'),
    durationSeconds: numberOf('duration', v.duration, (n) => n > 0, 'seconds, above 0'),
    apps: v.apps.split(',').map((a) => a.trim()).filter(Boolean),
    startMs,
    speed: numberOf('speed', v.speed, (n) => n >= 1, 'simulated seconds per real second, at least 1'),
    v4Share: v['v4-share'] !== undefined ? share('v4-share', v['v4-share']) : v.v4 ? 1 : 0,
    users: numberOf('users', v.users, (n) => Number.isInteger(n) && n >= 6, 'an integer of at least 6'),
    duplicateRate: share('duplicates', v.duplicates),
    lateRate: share('late', v.late),
    runTag: `${seed.toString(36)}-${Math.floor(startMs / 1000).toString(36)}`,
  };
}

async function main(): Promise<void> {
  const { values: v } = parseArgs({ args: process.argv.slice(2), options: OPTIONS });
  if (v.help) return void console.log(USAGE);
  const seed = v.seed === undefined ? randomInt(2 ** 31) : numberOf('seed', v.seed, (n) => Number.isInteger(n) && n >= 0 && n < 2 ** 32, 'an integer from 0 to 2^32 - 1');
  const traffic = trafficOptions(v, seed);
  const tty = process.stderr.isTTY;
  console.error(`simulate: ${traffic.rate} callbacks/s for ${traffic.durationSeconds} s to ${v.url}${v.path}, apps ${traffic.apps.join(',')}, seed ${seed}`);
  const report = await runSimulation(traffic, {
    url: v.url,
    path: v.path,
    token: v.token ?? null,
    signToken: v['sign-token'] ?? null,
    retryDelaysMs: TENCENT_RETRY_DELAYS_MS,
    maxInFlight: numberOf('max-in-flight', v['max-in-flight'], (n) => Number.isInteger(n) && n >= 1, 'an integer of at least 1'),
    requestTimeoutMs: 5000,
    onProgress: tty ? (s, planned) => process.stderr.write(`\rsimulate: ${s.deliveries}/${planned} delivered, ${s.answered.size} answered, ${s.retries} retries `) : undefined,
  });
  if (tty) process.stderr.write('\n');
  console.log(v.json ? JSON.stringify({ seed, ...report }, null, 2) : `${formatReport(report)}\n(seed ${seed}: --seed ${seed} replays the same traffic)`);
  if (report.answered < report.callbacks) process.exitCode = 2;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
