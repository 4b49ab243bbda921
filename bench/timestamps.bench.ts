/**
 * The pools' timestamptz parser (src/db/timestamps.ts) against pg's own (postgres-date) on the texts
 * PostgreSQL writes in a UTC session: whole seconds, milliseconds and microseconds, a third each. No
 * database; rounds alternate (pg, calltrail, pg, calltrail...) and each cell is one round's ns per text.
 *
 *   npx tsx bench/timestamps.bench.ts
 *   ROUNDS=6 TEXTS=200000 npx tsx bench/timestamps.bench.ts
 */
import { cpus } from 'node:os';
import { types } from 'pg';
import { parseTimestamptz } from '../src/db/timestamps';
import { pgTimestampText as pgText } from '../test/support/timestamps';
import { loadAverage, num } from './bulkhead-support';
import { printTable } from './harness';

const ROUNDS = num('ROUNDS', 4);
const TEXTS = num('TEXTS', 100_000);
const PASSES = num('PASSES', 10);

const pgParser = types.getTypeParser(types.builtins.TIMESTAMPTZ, 'text') as (text: string) => Date;

function texts(): string[] {
  const from = Date.UTC(2026, 0, 1);
  return Array.from({ length: TEXTS }, (_, i) => {
    const ms = from + Math.floor(Math.random() * 365 * 86_400_000);
    if (i % 3 === 0) return pgText(ms - (ms % 1000), 0);
    if (i % 3 === 1) return pgText(ms, 0);
    return pgText(ms, Math.floor(Math.random() * 1000));
  });
}

/** ns per text of `parse` over `PASSES` passes of `all`. */
function time(parse: (text: string) => unknown, all: string[]): number {
  let sink = 0;
  const start = process.hrtime.bigint();
  for (let pass = 0; pass < PASSES; pass++) for (const text of all) sink += (parse(text) as Date).getTime() & 1;
  const ns = Number(process.hrtime.bigint() - start) / (PASSES * all.length);
  if (sink < 0) throw new Error('unreachable');
  return ns;
}

function main(): void {
  console.log(`timestamps bench: ${cpus().length} cores, load average ${loadAverage()}; ${TEXTS.toLocaleString('en-US')} texts, ${PASSES} passes per round`);
  const all = texts();
  for (const text of all) {
    if ((parseTimestamptz(text) as Date).getTime() !== pgParser(text).getTime()) throw new Error(`the parsers differ on ${text}`);
  }
  time(pgParser, all); // warm-up of both
  time(parseTimestamptz, all);
  const pg: number[] = [];
  const ours: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    pg.push(time(pgParser, all));
    ours.push(time(parseTimestamptz, all));
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  printTable(
    ['parser', ...pg.map((_, i) => `round ${i + 1}, ns per text`), 'mean'],
    [
      ["pg's own (postgres-date)", ...pg.map((n) => n.toFixed(0)), mean(pg).toFixed(0)],
      ['src/db/timestamps.ts', ...ours.map((n) => n.toFixed(0)), mean(ours).toFixed(0)],
    ],
  );
  console.log(`\ncalltrail's parser takes ${((100 * mean(ours)) / mean(pg)).toFixed(0)}% of pg's time per text`);
}

main();
