import fc from 'fast-check';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Spool, type SpooledRecord } from './spool';

type Op =
  | { kind: 'append'; count: number }
  | { kind: 'reopen'; crash: boolean }
  | { kind: 'replay'; failAfter: number | null; batchSize: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('append' as const), count: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ kind: fc.constant('reopen' as const), crash: fc.boolean() }),
  fc.record({
    kind: fc.constant('replay' as const),
    failAfter: fc.option(fc.nat({ max: 6 }), { nil: null }),
    batchSize: fc.integer({ min: 1, max: 3 }),
  }),
);

/** What the handler has seen across every replay of one run. */
class Deliveries {
  readonly firsts: string[] = [];
  private readonly seen = new Set<string>();
  /** Ids whose segments are surely deleted: everything appended before a replay that completed. */
  private readonly deleted = new Set<string>();

  take(batch: SpooledRecord[]): void {
    for (const { payload } of batch) {
      const id = payload.toString();
      if (this.deleted.has(id)) throw new Error(`${id} delivered after its segment was deleted`);
      if (!this.seen.has(id)) this.firsts.push(id);
      this.seen.add(id);
    }
  }

  allDeleted(ids: readonly string[]): void {
    for (const id of ids) this.deleted.add(id);
  }
}

/** Runs `ops` against a spool in a fresh directory, then a final replay; returns what was appended and delivered. */
async function run(root: string, ops: Op[], segmentBytes: number) {
  const dir = await mkdtemp(join(root, 'run-'));
  const open = () => Spool.open({ dir, maxBytes: 1 << 20, segmentBytes, lock: { staleMs: 0 } });
  const appended: string[] = [];
  const deliveries = new Deliveries();
  const instances = [await open()];
  const replay = async (failAfter: number | null, batchSize: number) => {
    let handled = 0;
    const done = instances.at(-1)!.replay(async (batch) => {
      if (failAfter !== null && handled + batch.length > failAfter) throw new Error('database down');
      deliveries.take(batch);
      handled += batch.length;
    }, batchSize);
    if (await done.then(() => true, (err: Error) => (err.message === 'database down' ? false : Promise.reject(err)))) deliveries.allDeleted(appended);
  };
  try {
    for (const o of ops) {
      if (o.kind === 'append') {
        const ids = Array.from({ length: o.count }, (_, i) => `r${appended.length + i}`);
        await instances.at(-1)!.append(ids.map((id) => Buffer.from(id)));
        appended.push(...ids);
      } else if (o.kind === 'replay') await replay(o.failAfter, o.batchSize);
      else {
        if (!o.crash) await instances.at(-1)!.close();
        instances.push(await open()); // a crashed instance is left as it was, never closed
      }
    }
    await replay(null, 100);
    return { appended, firsts: deliveries.firsts, left: instances.at(-1)!.stats().records, files: (await readdir(dir)).filter((name) => name.endsWith('.spool')) };
  } finally {
    for (const spool of instances) await spool.close();
  }
}

describe('Spool (property)', () => {
  let root: string;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'calltrail-spool-prop-'));
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('delivers every appended payload at least once, first deliveries in append order, none after its segment was deleted', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 14 }), fc.integer({ min: 1, max: 120 }), async (ops, segmentBytes) => {
        const { appended, firsts, left, files } = await run(root, ops, segmentBytes);
        expect(firsts).toEqual(appended);
        expect(left).toBe(0);
        expect(files).toEqual([]);
      }),
      { numRuns: 60 },
    );
  });
});
