import { createReadStream, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { SingleBar } from 'cli-progress';
import { importArchive, refusedLines, type ImportTally, type RefusedLines } from '../ingest/archive-import';
import { runCli } from './run-cli';
import { toolIngest } from './tool-ingest';

const USAGE = `usage: npm run import -- FILE.jsonl [--app ID] [--concurrency N]
  Each line is one archived callback: {"query": "<its query string>", "body": <its JSON body, or the text sent>}
  (or a bare v1/v4 body with --app ID). Exit code: 0 all stored, 2 some lines refused, 1 an error.`;
/** Line numbers listed per reason in the summary; the rest are counted. */
const LINES_SHOWN = 20;
/** Without a terminal, a progress line this often. */
const PROGRESS_EVERY_MS = 2000;

/** The lines of `file`, each with its size in bytes (for the progress bar). */
async function* linesOf(file: string): AsyncGenerator<{ text: string; bytes: number }> {
  const rl = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  for await (const text of rl) yield { text, bytes: Buffer.byteLength(text) + 1 };
}

const counts = (t: ImportTally) => `${t.lines} lines: ${t.stored} stored, ${t.duplicate} duplicate, ${refusedLines(t)} refused`;

/** A bar on a terminal, else a line on stderr now and then. */
function progress(total: number): { update(t: ImportTally): void; stop(): void } {
  if (process.stderr.isTTY) {
    const bar = new SingleBar({ stream: process.stderr, format: 'import |{bar}| {percentage}% | {counts}', hideCursor: true });
    bar.start(total, 0, { counts: '' });
    return { update: (t) => bar.update(Math.min(t.bytes, total), { counts: counts(t) }), stop: () => bar.stop() };
  }
  let last = Date.now();
  return {
    update(t) {
      if (Date.now() - last < PROGRESS_EVERY_MS) return;
      last = Date.now();
      console.error(`import: ${Math.floor((100 * t.bytes) / Math.max(total, 1))}% ${counts(t)}`);
    },
    stop: () => undefined,
  };
}

function describeGroup(group: RefusedLines): string {
  const shown = group.lines.slice(0, LINES_SHOWN).join(', ');
  const more = group.lines.length > LINES_SHOWN ? ` and ${group.lines.length - LINES_SHOWN} more` : '';
  return `  ${group.code} (${group.lines.length}): ${group.reason}\n    lines ${shown}${more}`;
}

/** The summary on stdout: the counts, then each reason of refusal with its line numbers. */
function formatSummary(file: string, t: ImportTally): string {
  const out = [`imported ${file}: ${counts(t)}`];
  if (t.refused.size > 0) out.push('refused:', ...[...t.refused.values()].map(describeGroup));
  if (t.failed.length > 0) out.push('not stored (the database did not take them; run the import again):', ...t.failed.map(describeGroup));
  return out.join('\n');
}

runCli(async (db, config) => {
  const { positionals, values } = parseArgs({ args: process.argv.slice(2), allowPositionals: true, options: { app: { type: 'string' }, concurrency: { type: 'string' } } });
  const file = positionals[0];
  if (!file) throw new Error(`FILE: expected the archive to import, got nothing\n${USAGE}`);
  if (values.app !== undefined && !/^\d{1,20}$/.test(values.app)) throw new Error(`--app: expected a numeric SDKAppID, got ${JSON.stringify(values.app)}`);
  const concurrency = Number(values.concurrency ?? 64);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 10_000) throw new Error(`--concurrency: expected an integer from 1 to 10000, got ${JSON.stringify(values.concurrency)}`);
  const total = statSync(file).size;
  if (config.sdkAppIds === null) console.error('note: SDKAPPIDS is not set, so callbacks of any app are accepted');
  const ingest = toolIngest(config, db);
  const bar = progress(total);
  let tally: ImportTally;
  try {
    tally = await importArchive(linesOf(file), ingest.service, { app: values.app ?? null, source: 'import', concurrency, onProgress: bar.update });
  } finally {
    bar.stop();
    await ingest.close();
  }
  console.log(formatSummary(file, tally));
  if (tally.failed.length > 0) process.exitCode = 1;
  else if (tally.refused.size > 0) process.exitCode = 2;
});
