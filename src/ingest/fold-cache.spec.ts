import { FoldCache, type StoredFoldEvent } from './fold-cache';

const events = (n: number) => Array.from({ length: n }, (_, i) => ({ position: String(i + 1) }) as StoredFoldEvent);
const key = (callId: string) => ({ sdkAppId: '1400000001', callId });
const state = (n: number, upTo = String(n)) => ({ events: events(n), upTo, participants: new Map<string, string>() });

describe('FoldCache', () => {
  it('keeps calls of at least minEvents, and drops the ones written least recently past maxEvents', () => {
    const cache = new FoldCache({ minEvents: 10, maxEvents: 100, idleMs: 60_000, maxEventAgeMs: Number.POSITIVE_INFINITY });
    cache.set(key('small'), state(9));
    expect(cache.get(key('small'))).toBeUndefined();
    cache.set(key('a'), state(40));
    cache.set(key('b'), state(40));
    cache.set(key('a'), state(45)); // a is now the most recently written
    expect(cache.size).toEqual({ calls: 2, events: 85 });
    cache.set(key('c'), state(30)); // 115 > 100: b goes
    expect(cache.get(key('b'))).toBeUndefined();
    expect(cache.get(key('a'))?.events).toHaveLength(45);
    expect(cache.size).toEqual({ calls: 2, events: 75 });
    cache.set(key('huge'), state(101)); // larger than the whole budget: not kept
    expect(cache.get(key('huge'))).toBeUndefined();
  });

  it('keeps the state of the later position when two batches report in the other order', () => {
    const cache = new FoldCache({ minEvents: 1, maxEvents: 100, idleMs: 60_000, maxEventAgeMs: Number.POSITIVE_INFINITY });
    cache.set(key('a'), state(20, '900'));
    cache.set(key('a'), state(10, '120'));
    expect(cache.get(key('a'))?.upTo).toBe('900');
    cache.set(key('a'), state(21, '1000'));
    expect(cache.get(key('a'))?.events).toHaveLength(21);
  });

  it('does not serve a call holding an event older than maxEventAgeMs', () => {
    let now = 100_000_000;
    const cache = new FoldCache({ minEvents: 1, maxEvents: 100, idleMs: Number.POSITIVE_INFINITY, maxEventAgeMs: 3_600_000 }, () => now);
    const at = (t: number) => ({ position: String(t), eventTime: t }) as StoredFoldEvent;
    cache.set(key('a'), { events: [at(now / 1000 - 3000), at(now / 1000)], upTo: '1', participants: new Map() });
    expect(cache.get(key('a'))).toBeDefined();
    now += 601_000; // its first event is now 3,601 s old
    expect(cache.get(key('a'))).toBeUndefined();
    cache.set(key('b'), { events: [at(now / 1000 - 3601), at(now / 1000)], upTo: '2', participants: new Map() });
    expect(cache.size).toEqual({ calls: 0, events: 0 }); // not kept at all: it could never be served
  });

  it('forgets a call not written for idleMs', () => {
    let now = 0;
    const cache = new FoldCache({ minEvents: 1, maxEvents: 100, idleMs: 1000, maxEventAgeMs: Number.POSITIVE_INFINITY }, () => now);
    cache.set(key('a'), state(5));
    now = 1000;
    expect(cache.get(key('a'))).toBeDefined();
    now = 1001;
    expect(cache.get(key('a'))).toBeUndefined();
    expect(cache.size).toEqual({ calls: 0, events: 0 });
  });
});
