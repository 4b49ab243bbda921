import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { tableCrc32 } from './crc32';
import { segmentPath } from './files';
import { HEADER_BYTES } from './record';
import { Spool } from './spool';

let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'calltrail-spool-torn-'));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Two segment files as the spool writes them: `first` (several records) and one record `later`. */
async function writtenSegments(first: string[], later: string): Promise<{ head: Buffer; tail: Buffer }> {
  const dir = join(root, 'source');
  const spool = await Spool.open({ dir, maxBytes: 1 << 20, segmentBytes: 1, lock: { staleMs: 0 } });
  await spool.append(first.map((t) => Buffer.from(t)));
  await spool.append([Buffer.from(later)]);
  await spool.close();
  return { head: await readFile(segmentPath(dir, 1)), tail: await readFile(segmentPath(dir, 2)) };
}

/** Opens a spool over the two given segment files and replays it. */
async function replayFiles(name: string, head: Buffer, tail: Buffer) {
  const dir = join(root, name);
  await mkdir(dir);
  await writeFile(segmentPath(dir, 1), head);
  await writeFile(segmentPath(dir, 2), tail);
  const spool = await Spool.open({ dir, maxBytes: 1 << 20, lock: { staleMs: 0 } });
  const seen: string[] = [];
  await spool.replay(async (batch) => void seen.push(...batch.map((r) => r.payload.toString())));
  const stats = spool.stats();
  await spool.close();
  return { seen, stats, files: (await readdir(dir)).sort() };
}

describe('Spool with torn or corrupt segments', () => {
  const first = ['', 'x', 'hello', 'a payload longer than the header itself'];
  /** Offsets where each record of `first` ends, starting with 0. */
  const ends = first.reduce((acc, t) => [...acc, acc.at(-1)! + HEADER_BYTES + Buffer.byteLength(t)], [0]);

  it('replays exactly the records complete before a cut at every byte offset, then the next segment', async () => {
    const { head, tail } = await writtenSegments(first, 'later');
    expect(head.length).toBe(ends.at(-1));
    for (let cut = 0; cut <= head.length; cut++) {
      const complete = ends.filter((end) => end > 0 && end <= cut).length;
      const { seen, stats } = await replayFiles(`cut-${cut}`, head.subarray(0, cut), tail);
      const tornBytes = cut - ends[complete];
      expect({ cut, seen, tornTails: stats.tornTails, tornBytes: stats.tornBytes }).toEqual({
        cut,
        seen: [...first.slice(0, complete), 'later'],
        tornTails: tornBytes > 0 ? 1 : 0,
        tornBytes,
      });
    }
  });

  it('replays every intact record around any flipped byte in a middle record, counts the damage and keeps the file aside', async () => {
    const { head, tail } = await writtenSegments(first, 'later');
    for (let at = ends[2]; at < ends[3]; at++) {
      const corrupt = Buffer.from(head);
      corrupt[at] ^= 0xff;
      const { seen, stats, files } = await replayFiles(`flip-${at}`, corrupt, tail);
      expect({ at, seen, corruptSegments: stats.corruptSegments, tornTails: stats.tornTails, files }).toEqual({
        at,
        seen: ['', 'x', first[3], 'later'],
        corruptSegments: 1,
        tornTails: 0,
        files: ['corrupt-000000000001.spool'],
      });
    }
  });

  it('treats a flipped byte in the last record of a segment as a torn tail (nothing intact follows it)', async () => {
    const { head, tail } = await writtenSegments(first, 'later');
    const damaged = Buffer.from(head);
    damaged[ends[3] + HEADER_BYTES] ^= 0xff;
    const { seen, stats, files } = await replayFiles('flip-last', damaged, tail);
    expect(seen).toEqual([...first.slice(0, 3), 'later']);
    expect(stats).toMatchObject({ corruptSegments: 0, tornTails: 1, tornBytes: head.length - ends[3] });
    expect(files).toEqual([]);
  });

  it('treats a zero-filled tail (a crash after the size grew but before the data landed) as torn', async () => {
    const { head, tail } = await writtenSegments(first, 'later');
    const { seen, stats } = await replayFiles('zeros', Buffer.concat([head, Buffer.alloc(64)]), tail);
    expect(seen).toEqual([...first, 'later']);
    expect(stats).toMatchObject({ tornTails: 1, tornBytes: 64 });
  });

  it('computes the same CRC-32 without zlib.crc32 as with it', () => {
    const samples = ['', '123456789', 'calltrail', '\u00ff'.repeat(1000)].map((t) => Buffer.from(t));
    expect(samples.map(tableCrc32)).toEqual(samples.map((s) => zlib.crc32(s)));
    expect(tableCrc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });
});
