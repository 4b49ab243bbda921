import fc from 'fast-check';
import { eventWindow, intervalStart, nextIntervalStart, partitionName, rangesToCreate, uncovered, type PartitionInterval } from './partition-ranges';

const at = (iso: string) => Date.parse(iso) / 1000;
const iso = (t: number) => new Date(t * 1000).toISOString();

describe('partition ranges', () => {
  it('aligns months, ISO weeks and days in UTC', () => {
    const t = at('2026-11-26T17:50:29Z'); // a Thursday
    expect(iso(intervalStart(t, 'month'))).toBe('2026-11-01T00:00:00.000Z');
    expect(iso(intervalStart(t, 'week'))).toBe('2026-11-23T00:00:00.000Z');
    expect(iso(intervalStart(t, 'day'))).toBe('2026-11-26T00:00:00.000Z');
    expect(iso(nextIntervalStart(at('2026-12-01T00:00:00Z'), 'month'))).toBe('2027-01-01T00:00:00.000Z');
    expect(iso(nextIntervalStart(at('2027-01-31T00:00:00Z'), 'day'))).toBe('2027-02-01T00:00:00.000Z');
  });

  it('creates the current interval and the ones ahead, skipping those that exist', () => {
    const now = at('2026-11-26T12:00:00Z');
    const existing = [{ from: at('2026-11-01T00:00:00Z'), to: at('2026-12-01T00:00:00Z') }];
    expect(rangesToCreate(existing, now, 'month', 2).map((r) => [iso(r.from), iso(r.to)])).toEqual([
      ['2026-12-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z'],
      ['2027-01-01T00:00:00.000Z', '2027-02-01T00:00:00.000Z'],
    ]);
  });

  it('adds the intervals of rows waiting in the default partition', () => {
    const now = at('2026-11-26T12:00:00Z');
    const ranges = rangesToCreate([], now, 'month', 0, [at('2026-03-17T08:00:00Z')]);
    expect(ranges.map((r) => iso(r.from))).toEqual(['2026-03-01T00:00:00.000Z', '2026-11-01T00:00:00.000Z']);
  });

  it('fits week partitions around month partitions made before the setting changed', () => {
    const existing = [{ from: at('2026-11-01T00:00:00Z'), to: at('2026-12-01T00:00:00Z') }];
    const ranges = rangesToCreate(existing, at('2026-11-26T12:00:00Z'), 'week', 1);
    expect(ranges.map((r) => [iso(r.from), iso(r.to)])).toEqual([
      ['2026-12-01T00:00:00.000Z', '2026-12-07T00:00:00.000Z'],
    ]);
  });

  it('names partitions by their start', () => {
    expect(partitionName(at('2026-12-01T00:00:00Z'))).toBe('call_events_p20261201');
    expect(partitionName(at('2026-12-01T06:30:00Z'))).toBe('call_events_p20261201_063000');
  });

  it('never returns a range overlapping an existing one or another returned one, and covers what was asked', () => {
    const intervals: PartitionInterval[] = ['month', 'week', 'day'];
    const range = fc.tuple(fc.integer({ min: 0, max: 4000 }), fc.integer({ min: 1, max: 90 })).map(([d, n]) => ({ from: 1_700_000_000 + d * 86_400, to: 1_700_000_000 + (d + n) * 86_400 }));
    fc.assert(
      fc.property(fc.array(range, { maxLength: 6 }), fc.integer({ min: 0, max: 4000 }), fc.constantFrom(...intervals), fc.integer({ min: 0, max: 4 }), (raw, day, interval, ahead) => {
        // Existing partitions never overlap each other.
        const existing = raw.filter((r, i) => raw.slice(0, i).every((o) => r.to <= o.from || o.to <= r.from));
        const now = 1_700_000_000 + day * 86_400 + 3_600;
        const created = rangesToCreate(existing, now, interval, ahead);
        const all = [...existing, ...created];
        for (const [i, a] of all.entries()) {
          expect(a.from).toBeLessThan(a.to);
          for (const b of all.slice(i + 1)) expect(a.to <= b.from || b.to <= a.from).toBe(true);
        }
        // Every second from the current interval's start through `ahead` intervals is covered.
        let end = intervalStart(now, interval);
        for (let i = 0; i <= ahead; i++) end = nextIntervalStart(end, interval);
        const probe = [intervalStart(now, interval), now, end - 1];
        for (const t of probe) expect(all.some((r) => r.from <= t && t < r.to)).toBe(true);
        expect(uncovered({ from: intervalStart(now, interval), to: end }, all)).toEqual([]);
      }),
    );
  });
});

describe('eventWindow', () => {
  it('is null with retention off, and from the horizon to a day after now with it on', () => {
    const now = at('2026-12-07T12:00:00Z');
    expect(eventWindow(null, now)).toBeNull();
    const w = eventWindow(30, now)!;
    expect([iso(w.earliest), iso(w.latest)]).toEqual(['2026-11-07T12:00:00.000Z', '2026-12-08T12:00:00.000Z']);
  });
});
