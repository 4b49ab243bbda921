import { readFile, rename, unlink } from 'node:fs/promises';
import { lockDirectory, type DirLock, type DirLockOptions } from './dir-lock';
import { listSegments, makeDirectory } from './files';
import { decodeRecords, encodedSize, encodeRecords, type SpooledRecord } from './record';
import { newSegment, SegmentWriter, type Segment } from './writer';

export type { SpooledRecord } from './record';

/** Where a spool lives and how large it may grow. */
export interface SpoolOptions {
  /** Directory of the segment files; created (0700) when missing. One process per directory. */
  readonly dir: string;
  /** Most bytes the segment files may hold together; an append that would pass it is refused. */
  readonly maxBytes: number;
  /** A segment takes no new writes once it holds this many bytes (default 8 MiB). */
  readonly segmentBytes?: number;
  /** Clock for `appendedAt` (default `Date.now`). */
  readonly now?: () => number;
  /** How the folder's LOCK is claimed (tests shorten the waits). */
  readonly lock?: DirLockOptions;
  /** Told once per damaged segment (see `SpoolStats.corruptSegments`), with the bytes it could not read. */
  readonly onCorrupt?: (path: string, unreadableBytes: number) => void;
}

/** What the spool holds and has done since it was opened. */
export interface SpoolStats {
  /** Intact records not yet replayed and deleted. */
  readonly records: number;
  /** Bytes of the segment files on disk, torn tails included. */
  readonly bytes: number;
  /** `appendedAt` of the oldest of those records; null when there are none. */
  readonly oldestAppendedAt: number | null;
  /** Segments whose tail was torn or corrupt (counted once per segment, when first read). */
  readonly tornTails: number;
  /** Bytes in those tails, skipped by replay. */
  readonly tornBytes: number;
  /**
   * Segments damaged before their end (not a torn tail): every intact record in them, before and after
   * the damage, is replayed, and the file is then kept aside as `corrupt-NNNNNNNNNNNN.spool` in the
   * folder, never deleted (a record whose own bytes were damaged can only be recovered by hand).
   */
  readonly corruptSegments: number;
  /** fdatasync calls that made appends durable; with group commit, far fewer than appends. */
  readonly flushes: number;
}

/** An append refused because the spool would pass `maxBytes`; nothing of it was written. */
export class SpoolFullError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SpoolFullError';
  }
}

const DEFAULT_SEGMENT_BYTES = 8 * 1024 * 1024;

/**
 * A durable local queue of callbacks for when PostgreSQL cannot take them. Appends are group
 * committed and resolve only after fdatasync; replay hands records back oldest first and deletes a
 * segment only after every record in it was handled, so a crash at any point re-delivers (the
 * database dedupes) rather than loses.
 */
export class Spool {
  private readonly segments: Segment[] = [];
  private readonly writer: SegmentWriter;
  private replays: Promise<unknown> = Promise.resolve();
  private closed = false;
  private torn = { tornTails: 0, tornBytes: 0, corruptSegments: 0 };
  private lock: DirLock | null = null;

  private constructor(
    private readonly options: SpoolOptions,
    nextSeq: number,
  ) {
    const segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    // Never acknowledge into a folder another process has taken over (it may be replaying and deleting).
    this.writer = new SegmentWriter(options.dir, segmentBytes, nextSeq, (seg) => this.segments.push(seg), async () => this.lock?.assertHeld());
  }

  /**
   * Opens (creating) the spool directory and reads the segments a previous process left. Writes
   * always go to a new segment: the last old one may end in a torn record, and records written
   * after it could never be read.
   */
  static async open(options: SpoolOptions): Promise<Spool> {
    await makeDirectory(options.dir);
    const lock = await lockDirectory(options.dir, options.lock);
    const seqs = await listSegments(options.dir);
    const spool = new Spool(options, (seqs.at(-1) ?? 0) + 1);
    spool.lock = lock;
    for (const seq of seqs) {
      const seg = newSegment(options.dir, seq);
      spool.readBack(seg, await readFile(seg.path));
      spool.segments.push(seg);
    }
    return spool;
  }

  /**
   * Appends `payloads` as consecutive records, resolving once they are fdatasync'd. Calls made
   * while a write is in flight share the next write and fdatasync. Rejects with SpoolFullError,
   * writing nothing, when the spool would pass `maxBytes`.
   */
  async append(payloads: readonly Buffer[]): Promise<void> {
    if (this.closed) throw new Error('spool: expected an open spool, got a closed one');
    if (payloads.length === 0) return;
    const size = encodedSize(payloads);
    const used = this.diskBytes() + this.writer.queuedBytes;
    if (used + size > this.options.maxBytes) {
      throw new SpoolFullError(`spool: expected room for ${size} bytes within ${this.options.maxBytes}, got ${used} in use`);
    }
    const appendedAt = (this.options.now ?? Date.now)();
    await this.writer.write(encodeRecords(payloads, appendedAt), payloads.length, appendedAt);
  }

  /**
   * Hands pending records to `handle`, oldest first, up to `batchSize` at a time and never mixing
   * segments in one batch. A segment is deleted once `handle` resolved for all its records; the
   * segment open for writes is sealed first. Segments started after the replay began are left for
   * the next one, so a steady stream of appends cannot keep it running. If `handle` throws, the
   * replay stops and rethrows, and its segment stays to be replayed from its start. Replays run
   * one at a time. Resolves to the number of records handled.
   */
  replay(handle: (batch: SpooledRecord[]) => Promise<void>, batchSize = 100): Promise<number> {
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      return Promise.reject(new RangeError(`batchSize: expected a positive integer, got ${batchSize}`));
    }
    const run = this.replays.then(() => this.replayNow(handle, batchSize));
    this.replays = run.catch(() => undefined);
    return run;
  }

  /** Totals over the segments on disk, and counters since open. */
  stats(): SpoolStats {
    const oldest = this.segments.find((s) => s.records > 0);
    const records = this.segments.reduce((n, s) => n + s.records, 0);
    return { records, bytes: this.diskBytes(), oldestAppendedAt: oldest?.firstAppendedAt ?? null, ...this.torn, flushes: this.writer.flushes };
  }

  /**
   * Refuses new appends, writes those already accepted, and closes the open segment. A replay in
   * progress stops before its next batch.
   */
  async close(): Promise<void> {
    this.closed = true;
    await this.writer.close();
    await this.lock?.release();
  }

  private async replayNow(handle: (batch: SpooledRecord[]) => Promise<void>, batchSize: number): Promise<number> {
    const last = this.segments.at(-1)?.seq ?? 0;
    let handled = 0;
    for (let seg = this.segments[0]; seg !== undefined && seg.seq <= last; seg = this.segments[0]) {
      await this.writer.seal(seg);
      const records = this.readBack(seg, await readFile(seg.path));
      for (let i = 0; i < records.length; i += batchSize) {
        if (this.closed) return handled;
        const batch = records.slice(i, i + batchSize);
        await handle(batch);
        handled += batch.length;
      }
      // Not fsync'ing the directory: should the unlink be lost in a crash, the records come back
      // and are written again, which the database dedupes.
      await this.lock?.assertHeld();
      if (seg.corrupt) await rename(seg.path, seg.path.replace(/seg-(\d+)\.spool$/, 'corrupt-$1.spool'));
      else await unlink(seg.path);
      this.segments.splice(this.segments.indexOf(seg), 1);
    }
    return handled;
  }

  /** Updates `seg` from its file's content and returns its intact records. */
  private readBack(seg: Segment, file: Buffer): SpooledRecord[] {
    const { records, validBytes, corruptBytes } = decodeRecords(file);
    const corrupt = corruptBytes > 0;
    seg.records = records.length;
    seg.bytes = file.length;
    seg.firstAppendedAt = records[0]?.appendedAt ?? null;
    if (!seg.checked && corrupt) {
      this.torn.corruptSegments++;
      this.options.onCorrupt?.(seg.path, corruptBytes);
    }
    if (!seg.checked && validBytes < file.length) {
      this.torn.tornTails++;
      this.torn.tornBytes += file.length - validBytes;
    }
    seg.corrupt = corrupt;
    seg.checked = true;
    return records;
  }

  private diskBytes(): number {
    return this.segments.reduce((n, s) => n + s.bytes, 0);
  }
}
