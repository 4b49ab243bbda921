import type { FileHandle } from 'node:fs/promises';
import { createSegmentFile, segmentPath, syncDirectory, writeFully } from './files';

/** One segment file as the spool tracks it. */
export interface Segment {
  readonly seq: number;
  readonly path: string;
  records: number;
  bytes: number;
  firstAppendedAt: number | null;
  /** Read back at least once, so a torn tail in it has been counted and must not be counted again. */
  checked: boolean;
  /** Damaged before its end when last read: kept aside after replay instead of deleted. */
  corrupt?: boolean;
}

/** A segment not yet written or read. */
export const newSegment = (dir: string, seq: number): Segment => ({ seq, path: segmentPath(dir, seq), records: 0, bytes: 0, firstAppendedAt: null, checked: false });

interface QueuedAppend {
  readonly data: Buffer;
  readonly records: number;
  readonly appendedAt: number;
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * The segment open for writes and the group commit into it: appends queued while a write and
 * fdatasync are in flight go out together in the next write. Writes, rotation and sealing take
 * one lock, so a segment is never closed under a write in flight.
 */
export class SegmentWriter {
  private current: { readonly seg: Segment; readonly handle: FileHandle } | null = null;
  private queue: QueuedAppend[] = [];
  private flushing: Promise<void> | null = null;
  private lock: Promise<unknown> = Promise.resolve();
  /** Bytes accepted but not yet in a segment's count, so `maxBytes` holds for appends in flight too. */
  queuedBytes = 0;
  /** fdatasync calls that completed. */
  flushes = 0;

  constructor(
    private readonly dir: string,
    private readonly segmentBytes: number,
    private nextSeq: number,
    /** Told of each new segment file, before anything is written to it. */
    private readonly created: (seg: Segment) => void,
    /** Checked before each group is written; a throw refuses the group, writing nothing. */
    private readonly beforeWrite: () => Promise<void> = async () => undefined,
  ) {}

  /** Queues encoded records; resolves once they are fdatasync'd. */
  write(data: Buffer, records: number, appendedAt: number): Promise<void> {
    this.queuedBytes += data.length;
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ data, records, appendedAt, resolve, reject });
      this.flushing ??= this.drain();
    });
  }

  /** Stops writing to `seg` if it is the open segment; the next write starts a new one. */
  seal(seg: Segment): Promise<void> {
    return this.exclusive(() => (this.current?.seg === seg ? this.closeCurrent() : Promise.resolve()));
  }

  /** Writes everything queued, then closes the open segment. */
  async close(): Promise<void> {
    await this.flushing;
    await this.exclusive(() => this.closeCurrent());
  }

  private async drain(): Promise<void> {
    try {
      // The group is taken when the lock is acquired, not before, so it gathers every append made until then.
      while (this.queue.length > 0) await this.exclusive(() => this.writeGroup(this.queue.splice(0)));
    } finally {
      this.flushing = null;
    }
  }

  private async writeGroup(group: QueuedAppend[]): Promise<void> {
    const data = group.length === 1 ? group[0].data : Buffer.concat(group.map((a) => a.data));
    try {
      await this.beforeWrite();
    } catch (err) {
      this.queuedBytes -= data.length;
      for (const a of group) a.reject(err);
      return;
    }
    try {
      const { seg, handle } = await this.writable();
      await writeFully(handle, data);
      await handle.datasync();
      this.flushes++;
      seg.bytes += data.length;
      seg.records += group.reduce((n, a) => n + a.records, 0);
      seg.firstAppendedAt ??= group[0].appendedAt;
      this.queuedBytes -= data.length;
      for (const a of group) a.resolve();
    } catch (err) {
      await this.sealAfterFailure(data.length);
      this.queuedBytes -= data.length;
      for (const a of group) a.reject(err);
    }
  }

  /** The segment to write to: a new one when none is open or the open one is full. */
  private async writable(): Promise<{ seg: Segment; handle: FileHandle }> {
    if (this.current !== null && this.current.seg.bytes >= this.segmentBytes) await this.closeCurrent();
    if (this.current !== null) return this.current;
    const seg = newSegment(this.dir, this.nextSeq++);
    const current = { seg, handle: await createSegmentFile(seg.path) };
    // Tracked before the directory sync: should that fail, the file exists and counts against maxBytes.
    this.created(seg);
    this.current = current;
    await syncDirectory(this.dir);
    return current;
  }

  /**
   * After a failed write or sync, part of the group may be in the file, and the kernel may have
   * dropped pages it could not write. Records appended after that could sit behind a torn record
   * and be unreadable, so the segment takes no more writes.
   */
  private async sealAfterFailure(attemptedBytes: number): Promise<void> {
    const current = this.current;
    if (current === null) return;
    current.seg.bytes = await current.handle.stat().then(
      (s) => s.size,
      () => current.seg.bytes + attemptedBytes,
    );
    await this.closeCurrent();
  }

  private async closeCurrent(): Promise<void> {
    const current = this.current;
    if (current === null) return;
    this.current = null;
    // Everything acknowledged was fdatasync'd already, so a failing close cannot lose a record.
    await current.handle.close().catch(() => undefined);
  }

  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.lock.then(task);
    this.lock = run.catch(() => undefined);
    return run;
  }
}
