import type { EventPartitionRepository } from '../db/event-partitions.repository';
import { EventMaintenance, type MaintenanceReport } from './event-maintenance';

const NOW = Date.parse('2026-11-26T12:00:00Z') / 1000;
const month = (iso: string) => Date.parse(`${iso}-01T00:00:00Z`) / 1000;

/** A repository in memory, whose `drop` of one partition fails like a lock held too long (and of another is postponed). */
function fakeRepository(failDropOf: string | null, postponeDropOf: string | null = null) {
  const partitions = [
    { name: 'call_events_default', range: null },
    { name: 'call_events_p20260101', range: { from: month('2026-01'), to: month('2026-02') } },
    { name: 'call_events_p20260201', range: { from: month('2026-02'), to: month('2026-03') } },
    { name: 'call_events_p20261101', range: { from: month('2026-11'), to: month('2026-12') } },
  ];
  const calls = { deleted: 0 };
  const head = { value: '9000' };
  /** The partitions of each dropAll, in one call each. */
  const dropCalls: string[][] = [];
  /** The `keepAbove` of each drop and stray delete. */
  const keptAbove: (string | null)[] = [];
  const repo = {
    list: async () => [...partitions],
    defaultIntervals: async () => new Map<number, number>([[month('2026-09'), 150_000]]),
    create: async (range: { from: number; to: number }) => {
      const name = `call_events_p${new Date(range.from * 1000).toISOString().slice(0, 10).replace(/-/g, '')}`;
      partitions.push({ name, range });
      return { name, moved: 0 };
    },
    dropAll: async (names: readonly string[], keepAbove: string | null) => {
      keptAbove.push(keepAbove);
      if (names.includes(failDropOf ?? '')) throw Object.assign(new Error('canceling statement due to lock timeout'), { code: '55P03' });
      for (const name of names) partitions.splice(partitions.findIndex((p) => p.name === name), 1);
      dropCalls.push([...names]);
      return { outcome: 'dropped', dropped: [...names], kept: 3 * names.length, strayDeleted: 0 };
    },
    minPosition: async (name: string) => ({ call_events_p20260101: '100', call_events_p20260201: '200', call_events_p20261101: '5000' })[name] ?? null,
    defaultMinPosition: async () => '6000',
    positionHead: async () => head.value,
    countAbove: async (name: string) => (name === postponeDropOf ? 20_000 : 3),
    deleteStrayBefore: async (_before: number, _limit: number, keepAbove: string | null) => {
      keptAbove.push(keepAbove);
      return 0;
    },
    deleteCallsBefore: async () => {
      const n = calls.deleted === 0 ? 1000 : 250;
      calls.deleted += n;
      return n;
    },
    oldestEventTime: async () => month('2026-02'),
  };
  return { repo: repo as unknown as EventPartitionRepository, partitions, calls, keptAbove, head, dropCalls };
}

const run = (repo: EventPartitionRepository): Promise<MaintenanceReport> =>
  new EventMaintenance({
    partitions: repo,
    interval: 'month',
    ahead: 1,
    retentionDays: 200,
    callRetentionDays: 365,
    intervalMs: 60_000,
    exclusive: async (work) => ({ acquired: true, value: await work() }),
    nowSeconds: () => NOW,
  }).runNow();

describe('EventMaintenance', () => {
  it('creates ahead, drops what retention passed, deletes calls in batches, and leaves a too-large move alone', async () => {
    const { repo, partitions, calls } = fakeRepository(null);
    const report = await run(repo);
    expect(report.outcome).toBe('ok');
    expect(report.created.map((c) => c.name)).toEqual(['call_events_p20261201']);
    // 200 days before now is 2026-05-10: January ended more than a day before it; so did February.
    expect(report.dropped).toEqual(['call_events_p20260101', 'call_events_p20260201']);
    expect(report.skippedMoves).toEqual([{ from: month('2026-09'), rows: 150_000 }]);
    expect(partitions.map((p) => p.name)).not.toContain('call_events_p20260901');
    expect(report.callsDeleted).toBe(1250);
    expect(calls.deleted).toBe(1250);
  });

  it('keeps every event stored after the oldest one kept, and reports a drop postponed for it', async () => {
    const { repo, partitions, keptAbove } = fakeRepository(null, 'call_events_p20260101');
    const report = await run(repo);
    expect(report.outcome).toBe('ok');
    // The events kept start at November's lowest position; January stays whole, so they start at its lowest.
    expect(keptAbove).toEqual(['100']); // February's drop, with the first stray rows
    expect(report.dropped).toEqual(['call_events_p20260201']);
    expect(report.keptLate).toBe(3);
    expect(report.postponedDrops).toEqual([{ name: 'call_events_p20260101', keep: 20_000 }]);
    expect(partitions.map((p) => p.name)).toContain('call_events_p20260101');
  });

  it("keeps what is stored after its plan: the sequence's head bounds what may be deleted", async () => {
    const { repo, keptAbove, head, dropCalls } = fakeRepository(null);
    head.value = '42'; // nothing kept has a lower position: only what the sequence has given out so far may go
    const report = await run(repo);
    expect(report.dropped).toEqual(['call_events_p20260101', 'call_events_p20260201']);
    expect(keptAbove).toEqual(['42']);
    expect(dropCalls).toEqual([['call_events_p20260101', 'call_events_p20260201']]); // one transaction for both
  });

  it('plans again when a partition is created while it plans, and waits for the next run when that goes on', async () => {
    const { repo, partitions, keptAbove } = fakeRepository(null);
    // A creation on ingest's path between the plan's first reads, moving the default partition's lowest kept
    // rows (position 7) into the new partition: once, then at every plan.
    let creations = 1;
    const defaultMin = repo.defaultMinPosition.bind(repo);
    const minPosition = repo.minPosition.bind(repo);
    (repo as unknown as { defaultMinPosition: typeof defaultMin }).defaultMinPosition = async (since) => {
      if (creations-- > 0) partitions.push({ name: `call_events_p2027010${creations + 2}`, range: { from: month('2027-01'), to: month('2027-02') } });
      return defaultMin(since);
    };
    (repo as unknown as { minPosition: typeof minPosition }).minPosition = async (name) => (name.startsWith('call_events_p2027') ? '7' : minPosition(name));
    expect((await run(repo)).dropped).toEqual(['call_events_p20260101', 'call_events_p20260201']);
    expect(keptAbove).toEqual(['7']); // the second plan read the new partition
    creations = 10;
    keptAbove.length = 0;
    const report = await run(repo);
    expect(report.outcome).toBe('error');
    expect(String(report.error)).toContain('changed during each of 3 plans');
    expect(keptAbove).toEqual([]);
  });

  it('runs every other step when one fails, and reports the failure', async () => {
    const { repo, keptAbove } = fakeRepository('call_events_p20260101');
    const report = await run(repo);
    expect(report.outcome).toBe('error');
    expect(report.errors).toBe(1);
    expect(String(report.error)).toContain('lock timeout');
    // The drops are one transaction: a failed one leaves the others undone, and the stray rows too, until the next run.
    expect(report.dropped).toEqual([]);
    expect(keptAbove).toEqual(['5000']);
    expect(report.created.map((c) => c.name)).toEqual(['call_events_p20261201']);
    expect(report.callsDeleted).toBe(1250);
    expect(report.oldestEventAt).toBe(month('2026-02'));
  });
});
