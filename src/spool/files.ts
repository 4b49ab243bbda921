import { mkdir, open, readdir, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';

const SEGMENT_NAME = /^seg-(\d{12})\.spool$/;

/** The path of segment `seq`; zero-padded so that names sort in append order. */
export const segmentPath = (dir: string, seq: number): string => join(dir, `seg-${String(seq).padStart(12, '0')}.spool`);

/** Sequence numbers of the segment files in `dir`, oldest first; other files are left alone. */
export async function listSegments(dir: string): Promise<number[]> {
  const seqs = (await readdir(dir)).flatMap((name) => {
    const match = SEGMENT_NAME.exec(name);
    return match ? [Number(match[1])] : [];
  });
  return seqs.sort((a, b) => a - b);
}

/**
 * `mkdir -p` with mode 0700. Each directory it creates is entered into its parent, and that entry
 * survives a crash only once the parent itself is fsync'd; the spool's files would vanish with it.
 */
export async function makeDirectory(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true, mode: 0o700 });
  if (first === undefined) return;
  const top = resolve(first);
  for (let created = resolve(dir); ; created = dirname(created)) {
    await syncDirectory(dirname(created));
    if (created === top) return;
  }
}

/** fsync of a directory: makes the files created in it (their names) durable. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Creates a segment file, 0600, failing if it exists: a segment is never appended to by two writers. */
export const createSegmentFile = (path: string): Promise<FileHandle> => open(path, 'wx', 0o600);

/** Writes all of `data` at the file's position; one write() may accept less than it was given. */
export async function writeFully(handle: FileHandle, data: Buffer): Promise<void> {
  for (let at = 0; at < data.length; ) {
    const { bytesWritten } = await handle.write(data, at, data.length - at);
    if (bytesWritten <= 0) throw new Error(`spool: expected the file to accept ${data.length - at} bytes, got 0 written`);
    at += bytesWritten;
  }
}
