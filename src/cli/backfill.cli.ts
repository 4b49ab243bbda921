import { parseArgs } from 'node:util';
import { loadConfig } from '../config';
import { createBackfill } from '../records/backfill.assembly';
import type { BackfillService } from '../records/backfill.service';
import { runCli } from './run-cli';

const USAGE = 'usage: npm run backfill -- --app SDKAPPID --since ISO-TIME [--until ISO-TIME]   (Tencent keeps the last 7 days)';

/** An ISO time (`2024-05-01`, `2024-05-01T08:00:00Z`) as Unix seconds. */
function seconds(name: string, value: string | undefined, fallback?: number): number {
  if (value === undefined && fallback !== undefined) return fallback;
  const ms = value === undefined ? NaN : Date.parse(value);
  if (Number.isNaN(ms)) throw new Error(`--${name}: expected an ISO time such as 2024-05-01T08:00:00Z, got ${value === undefined ? 'nothing' : JSON.stringify(value)}\n${USAGE}`);
  return Math.floor(ms / 1000);
}

const iso = (s: number) => new Date(s * 1000).toISOString();

/**
 * `npm run backfill`: pulls every record of a window from Tencent's records API into calltrail, through
 * the same idempotent path as callbacks (docs/trtc-callbacks.md, section 7). Progress on stderr, the
 * summary on stdout; exit code 0 when every record is stored (or was before), 2 when some were
 * refused, 1 on an error.
 */
async function run(backfill: BackfillService, argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { app: { type: 'string' }, since: { type: 'string' }, until: { type: 'string' } } });
  if (!values.app) throw new Error(`--app: expected an SDKAppID of TRTC_APPS (${backfill.apps.join(', ') || 'none configured'}), got nothing\n${USAGE}`);
  const since = seconds('since', values.since);
  const until = seconds('until', values.until, Math.floor(Date.now() / 1000));
  if (since > until) throw new Error(`--since: expected a time before --until (${iso(until)}), got ${iso(since)}`);
  const { window, clamped } = backfill.clampWindow(since, until);
  if (clamped) console.error(`--since ${iso(since)} is older than Tencent keeps records (7 days): pulling from ${iso(window.since)}`);
  if (window.since > window.until) throw new Error(`--until: expected a time within Tencent's last 7 days (after ${iso(window.since)}), got ${iso(until)}`);
  console.error(`app ${values.app}: pulling records of calls started ${iso(window.since)} to ${iso(window.until)}`);
  const s = await backfill.pull(values.app, window, {
    onPage: (p) => console.error(`app ${p.sdkAppId}: page ${p.page}/${p.lastPage}, ${p.recordsSeen} records, ${p.callsNew} calls new, ${p.callsKnown} already known`),
    onRefused: (message) => console.error(`refused: ${message}`),
  });
  console.log(
    `app ${s.sdkAppId}, calls started ${iso(s.window.since)} to ${iso(s.window.until)}: ${s.recordsSeen} records seen, ` +
      `${s.callsNew} calls new to calltrail, ${s.callsKnown} calls already known, ${s.recordsRefused} records refused`,
  );
  if (s.recordsRefused > 0) process.exitCode = 2; // like npm run import: some records were refused (named above)
}

runCli(async (db) => {
  const backfill = createBackfill(loadConfig(), db.ingestDataSource, {
    onRetry: (err, attempt, delayMs) => console.error(`retrying in ${delayMs} ms (attempt ${attempt}): ${err.message}`),
  });
  await run(backfill, process.argv.slice(2));
});
