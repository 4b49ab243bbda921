import { existsSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { segmentPath } from './files';
import { HEADER_BYTES } from './record';
import { Spool, SpoolFullError, type SpoolOptions } from './spool';

let dir: string;
let abandoned: Spool[];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'calltrail-spool-'));
  abandoned = [];
});

afterEach(async () => {
  for (const spool of abandoned) await spool.close(); // only to release file handles; each test is over
  await rm(dir, { recursive: true, force: true });
});

// A crash is simulated by abandoning an instance: its LOCK is taken over at once (staleMs 0).
const open = (options: Partial<SpoolOptions> = {}) => Spool.open({ dir, maxBytes: 1 << 20, lock: { staleMs: 0 }, ...options });
const bufs = (...texts: string[]) => texts.map((t) => Buffer.from(t));
const segmentFiles = async () => (await readdir(dir)).filter((name) => name.endsWith('.spool')).sort();

/** Replays everything, returning the payloads as text in delivery order. */
async function replayAll(spool: Spool, batchSize?: number): Promise<string[]> {
  const seen: string[] = [];
  await spool.replay(async (batch) => void seen.push(...batch.map((r) => r.payload.toString())), batchSize);
  return seen;
}

describe('Spool', () => {
  it('keeps appended records across close and reopen, and replays them in append order across segments', async () => {
    const spool = await open({ segmentBytes: 64 });
    const batches = [['a1', 'a2'], ['b1'], ['c1', 'c2', 'c3'], ['d1']];
    for (const batch of batches) await spool.append(bufs(...batch));
    await spool.close();
    expect((await segmentFiles()).length).toBeGreaterThanOrEqual(3);

    const reopened = await open({ segmentBytes: 64 });
    expect(await replayAll(reopened)).toEqual(batches.flat());
    expect(await segmentFiles()).toEqual([]);
    expect(reopened.stats()).toMatchObject({ records: 0, bytes: 0 });
    await reopened.close();
  });

  it('writes 100 concurrent appends with far fewer fdatasyncs, and keeps their call order', async () => {
    const spool = await open();
    const ids = Array.from({ length: 100 }, (_, i) => `r${i}`);
    await Promise.all(ids.map((id) => spool.append(bufs(id))));
    expect(spool.stats().flushes).toBeLessThanOrEqual(5);
    expect(await replayAll(spool)).toEqual(ids);
    await spool.close();
  });

  it('loses no acknowledged record when abandoned without close, and writes after a torn tail into a new segment', async () => {
    const crashed = await open({ segmentBytes: 50 });
    await crashed.append(bufs('a', 'b'));
    await crashed.append(bufs('c', 'd', 'e'));
    abandoned.push(crashed);
    const last = (await segmentFiles()).at(-1)!;
    await appendFile(join(dir, last), Buffer.from([0x43, 0x54, 1])); // a write the crash cut short

    const spool = await open({ segmentBytes: 50 });
    await spool.append(bufs('f'));
    expect(await replayAll(spool)).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    expect(spool.stats()).toMatchObject({ tornTails: 1, tornBytes: 3, records: 0 });
    await spool.close();
  });

  it('deletes a segment only after each of its records was handled, and resumes at the segment where a handler failed', async () => {
    const spool = await open({ segmentBytes: 1 }); // every append gets its own segment
    for (let i = 0; i < 6; i++) await spool.append(bufs(`r${i}`));
    const seen: string[] = [];
    const failing = spool.replay(async ([record]) => {
      const i = Number(record.payload.toString().slice(1));
      expect(existsSync(segmentPath(dir, i + 1))).toBe(true);
      expect(await segmentFiles()).toHaveLength(6 - i);
      if (i === 3) throw new Error('database down');
      seen.push(record.payload.toString());
    }, 1);
    await expect(failing).rejects.toThrow('database down');
    expect(await segmentFiles()).toHaveLength(3);
    abandoned.push(spool);

    const next = await open();
    expect(await replayAll(next)).toEqual(['r3', 'r4', 'r5']);
    expect(seen).toEqual(['r0', 'r1', 'r2']);
    await next.close();
  });

  it('re-delivers a whole segment when its replay failed after some of its batches were handled', async () => {
    const spool = await open();
    await spool.append(bufs('a', 'b', 'c', 'd', 'e'));
    let batches = 0;
    const failing = spool.replay(async () => {
      if (++batches === 3) throw new Error('database down');
    }, 2);
    await expect(failing).rejects.toThrow('database down');
    expect(await segmentFiles()).toHaveLength(1);
    expect(spool.stats().records).toBe(5);
    expect(await replayAll(spool, 2)).toEqual(['a', 'b', 'c', 'd', 'e']);
    await spool.close();
  });

  it('refuses an append that would pass maxBytes, writing nothing, and accepts again once a replay freed space', async () => {
    const size = HEADER_BYTES + 1;
    const spool = await open({ maxBytes: 3 * size });
    await spool.append(bufs('a', 'b'));
    await expect(spool.append(bufs('c', 'd'))).rejects.toThrow(SpoolFullError);
    expect(spool.stats()).toMatchObject({ records: 2, bytes: 2 * size });
    expect((await stat(join(dir, (await segmentFiles())[0]))).size).toBe(2 * size);

    await spool.append(bufs('c')); // exactly at the limit
    await expect(spool.append(bufs('d'))).rejects.toBeInstanceOf(SpoolFullError);
    expect(await replayAll(spool)).toEqual(['a', 'b', 'c']);
    await spool.append(bufs('d'));
    expect(await replayAll(spool)).toEqual(['d']);
    await spool.close();
  });

  it('counts appends still in flight against maxBytes', async () => {
    const spool = await open({ maxBytes: 3 * (HEADER_BYTES + 1) });
    const results = await Promise.allSettled(['a', 'b', 'c', 'd', 'e'].map((t) => spool.append(bufs(t))));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'rejected']);
    expect(spool.stats().bytes).toBe(3 * (HEADER_BYTES + 1));
    await spool.close();
  });

  it('tracks records, bytes and the oldest appendedAt through appends, reopen and replay', async () => {
    let clock = 1000;
    const spool = await open({ now: () => clock });
    expect(spool.stats()).toEqual({ records: 0, bytes: 0, oldestAppendedAt: null, tornTails: 0, tornBytes: 0, corruptSegments: 0, flushes: 0 });
    await spool.append(bufs('a', 'bb'));
    clock = 2000;
    await spool.append(bufs('ccc'));
    const expected = { records: 3, bytes: 3 * HEADER_BYTES + 6, oldestAppendedAt: 1000 };
    expect(spool.stats()).toMatchObject(expected);
    await spool.close();

    const reopened = await open({ now: () => clock });
    expect(reopened.stats()).toMatchObject(expected);
    const stamps: number[] = [];
    await reopened.replay(async (batch) => void stamps.push(...batch.map((r) => r.appendedAt)));
    expect(stamps).toEqual([1000, 1000, 2000]);
    expect(reopened.stats()).toMatchObject({ records: 0, bytes: 0, oldestAppendedAt: null });
    await reopened.close();
  });

  it('keeps records appended during a replay, delivering them in that replay or the next', async () => {
    const spool = await open({ segmentBytes: 50 });
    for (const t of ['a0', 'a1', 'a2', 'a3']) await spool.append(bufs(t));
    const seen: string[] = [];
    const outside: Promise<void>[] = [];
    await spool.replay(async (batch) => {
      seen.push(...batch.map((r) => r.payload.toString()));
      if (seen.length === 1) await spool.append(bufs('b0', 'b1'));
      outside.push(spool.append(bufs(`c${seen.length}`)));
    }, 1);
    await Promise.all(outside);
    seen.push(...(await replayAll(spool)));
    const firsts = [...new Set(seen)];
    expect(firsts.slice(0, 4)).toEqual(['a0', 'a1', 'a2', 'a3']);
    expect(firsts.filter((t) => !t.startsWith('a')).sort()).toEqual(['b0', 'b1', ...outside.map((_, i) => `c${i + 1}`)].sort());
    expect(spool.stats().records).toBe(0);
    await spool.close();
  });

  it('runs one replay at a time', async () => {
    const spool = await open();
    await spool.append(bufs('a', 'b', 'c'));
    let active = 0;
    let most = 0;
    const handle = async () => {
      most = Math.max(most, ++active);
      await new Promise((r) => setTimeout(r, 5));
      active--;
    };
    expect(await Promise.all([spool.replay(handle, 1), spool.replay(handle, 1)])).toEqual([3, 0]);
    expect(most).toBe(1);
    await spool.close();
  });

  it('creates its directory 0700 and its segment files 0600', async () => {
    const nested = join(dir, 'a', 'spool');
    const spool = await Spool.open({ dir: nested, maxBytes: 1000 });
    await spool.append(bufs('x'));
    expect((await stat(nested)).mode & 0o777).toBe(0o700);
    expect((await stat(segmentPath(nested, 1))).mode & 0o777).toBe(0o600);
    await spool.close();
  });

  it('refuses appends after close and a batch size below 1', async () => {
    const spool = await open();
    await expect(spool.replay(async () => undefined, 0)).rejects.toThrow(RangeError);
    await spool.close();
    await expect(spool.append(bufs('x'))).rejects.toThrow('closed');
  });

  it('waits for a LOCK refreshed by another process and gives up, but takes over one nobody refreshes', async () => {
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'LOCK'), 'other-host pid 1 token');
    await expect(open({ lock: { staleMs: 5000, waitMs: 300 } })).rejects.toThrow('locked by other-host pid 1 token');
    const old = new Date(Date.now() - 60_000);
    await utimes(join(dir, 'LOCK'), old, old); // its owner stopped refreshing it a minute ago
    const spool = await open({ lock: { staleMs: 5000, waitMs: 300 } });
    expect(await readFile(join(dir, 'LOCK'), 'utf8')).toContain(`pid ${process.pid}`);
    await spool.close();
    expect(existsSync(join(dir, 'LOCK'))).toBe(false);
  });

  it('refuses to append or delete once another process has taken its LOCK over', async () => {
    const spool = await open();
    await spool.append(bufs('before'));
    await writeFile(join(dir, 'LOCK'), 'newcomer');
    await expect(spool.append(bufs('after'))).rejects.toThrow('held by newcomer');
    await expect(spool.replay(async () => undefined)).rejects.toThrow('held by newcomer');
    expect((await segmentFiles()).length).toBe(1);
    await spool.close();
    expect(await readFile(join(dir, 'LOCK'), 'utf8')).toBe('newcomer');
  });

});
