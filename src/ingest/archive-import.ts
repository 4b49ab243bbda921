import { AppError } from '../domain/app-error';
import { readArchiveLine, type ArchiveLineOptions } from './archive-line';
import type { IngestService } from './ingest.service';

/** Refusals of one kind: the code, the reason, and the line numbers that got it. */
export interface RefusedLines {
  readonly code: string;
  readonly reason: string;
  readonly lines: number[];
}

/** What an import did, line by line (blank lines are not counted). */
export interface ImportTally {
  lines: number;
  /** Lines stored now (a v4 line when any of its events is new). */
  stored: number;
  /** Lines stored before (by Tencent's delivery, or an earlier import). */
  duplicate: number;
  /** Refused lines, grouped by code and reason, in the order first met. */
  readonly refused: Map<string, RefusedLines>;
  /** Lines the database could not take (run the import again: stored lines count as duplicates). */
  readonly failed: RefusedLines[];
  /** Bytes of the file read so far, for a progress bar. */
  bytes: number;
}

export interface ImportOptions extends ArchiveLineOptions {
  /** Lines in flight at once: enough to fill the batch writer's transactions. */
  readonly concurrency: number;
  /** Called after each settled line. */
  readonly onProgress?: (tally: ImportTally) => void;
}

/** The number of refused lines. */
export const refusedLines = (t: ImportTally): number => [...t.refused.values()].reduce((n, r) => n + r.lines.length, 0);

function tallyRefusal(tally: ImportTally, line: number, err: AppError): void {
  if (err.code === 'UNAVAILABLE') {
    const last = tally.failed.at(-1);
    if (last?.reason === err.message) last.lines.push(line);
    else tally.failed.push({ code: err.code, reason: err.message, lines: [line] });
    return;
  }
  const key = `${err.code}\n${err.message}`;
  const group = tally.refused.get(key);
  if (group) group.lines.push(line);
  else tally.refused.set(key, { code: err.code, reason: err.message, lines: [line] });
}

/**
 * Ingests an archive, one callback per line, through `ingest` (its checks, its dedupe: a line
 * stored before is a duplicate), `concurrency` lines at a time. `lines` yields each line with its
 * size in bytes.
 */
export async function importArchive(
  lines: AsyncIterable<{ readonly text: string; readonly bytes: number }>,
  ingest: Pick<IngestService, 'receive'>,
  options: ImportOptions,
): Promise<ImportTally> {
  const tally: ImportTally = { lines: 0, stored: 0, duplicate: 0, refused: new Map(), failed: [], bytes: 0 };
  const inFlight = new Set<Promise<void>>();
  let number = 0;
  for await (const { text, bytes } of lines) {
    number++;
    tally.bytes += bytes;
    if (text.trim() === '') continue;
    tally.lines++;
    const line = number;
    const work = ingestLine(text, line, ingest, options, tally).finally(() => {
      inFlight.delete(work);
      options.onProgress?.(tally);
    });
    inFlight.add(work);
    if (inFlight.size >= options.concurrency) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  return tally;
}

async function ingestLine(text: string, line: number, ingest: Pick<IngestService, 'receive'>, options: ArchiveLineOptions, tally: ImportTally): Promise<void> {
  try {
    const result = await ingest.receive(readArchiveLine(text, options));
    if (result === 'duplicate') tally.duplicate++;
    else tally.stored++;
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    tallyRefusal(tally, line, err);
  }
}
