import { FanoutScheduler, PacedIterator } from './fanout-scheduler';

/** A clock the test moves by hand: a unit "takes" the time it adds. */
const manualClock = () => {
  const clock = { now: 0, read: () => clock.now };
  return clock;
};
const nextMacrotask = () => new Promise((resolve) => setImmediate(resolve));

async function* items<T>(values: T[]): AsyncGenerator<T> {
  for (const v of values) yield v;
}

describe('FanoutScheduler', () => {
  it('lets other macrotasks run once a turn has used its budget, then goes on', async () => {
    const clock = manualClock();
    const scheduler = new FanoutScheduler(10, clock.read);
    const ran: number[] = [];
    let unitsBeforeIo = -1;
    setImmediate(() => (unitsBeforeIo = ran.length)); // stands for a callback's I/O, queued before the fan-out starts
    for (let i = 0; i < 10; i++) {
      await scheduler.run(() => {
        clock.now += 3; // each unit takes 3 ms
        ran.push(i);
      });
    }
    expect(unitsBeforeIo).toBe(4); // 0, 3, 6, 9 ms: the fifth unit would start past the 10 ms budget
    expect(ran).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('runs every unit without yielding while the budget lasts', async () => {
    const scheduler = new FanoutScheduler(10, () => 0);
    let io = false;
    setImmediate(() => (io = true));
    for (let i = 0; i < 1000; i++) await scheduler.run(() => undefined);
    expect(io).toBe(false);
  });

  it('admits waiting units in the order they asked', async () => {
    const clock = manualClock();
    const scheduler = new FanoutScheduler(10, clock.read);
    const order: string[] = [];
    const first = scheduler.run(() => (clock.now += 20)); // spends the turn: the others must wait
    const others = ['a', 'b', 'c', 'd', 'e'].map((id) => scheduler.run(() => order.push(id)));
    await Promise.all([first, ...others]);
    expect(order).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('admits `first` units (the hub\'s dispatch) before the subscribers\' units waiting longer', async () => {
    const clock = manualClock();
    const scheduler = new FanoutScheduler(10, clock.read);
    const order: string[] = [];
    const busy = scheduler.run(() => (clock.now += 20));
    const units = [scheduler.run(() => order.push('send 1')), scheduler.run(() => order.push('dispatch 1'), true), scheduler.run(() => order.push('send 2')), scheduler.run(() => order.push('dispatch 2'), true)];
    await Promise.all([busy, ...units]);
    expect(order).toEqual(['dispatch 1', 'dispatch 2', 'send 1', 'send 2']);
  });

  it('runs one unit per turn when each unit takes longer than the budget', async () => {
    const clock = manualClock();
    const scheduler = new FanoutScheduler(1, clock.read);
    let checks = 0; // check phases (turns) so far
    let counting = true;
    const count = () => {
      checks++;
      if (counting) setImmediate(count);
    };
    setImmediate(count);
    const seen: number[] = [];
    for (let i = 0; i < 5; i++) await scheduler.run(() => ((clock.now += 50), seen.push(checks)));
    counting = false;
    expect(seen.every((c, i) => i === 0 || c > seen[i - 1])).toBe(true);
  });

  it('takes at most its share of each window, waiting for the next window once it is used, whatever its backlog', async () => {
    const busy = (ms: number) => {
      const until = performance.now() + ms;
      while (performance.now() < until); // a unit of fan-out that keeps the event loop busy
    };
    const scheduler = new FanoutScheduler(10, undefined, 0.25, 100);
    const started = performance.now();
    const ranAt: number[] = [];
    let timers = 0;
    let ticking = true;
    const tick = () => {
      timers++;
      if (ticking) setTimeout(tick, 5);
    };
    setTimeout(tick, 5); // stands for ingest's timers and I/O, which must keep running meanwhile
    await Promise.all(
      Array.from({ length: 20 }, () =>
        scheduler.run(() => {
          ranAt.push(performance.now() - started);
          busy(5);
        }),
      ),
    );
    ticking = false;
    // 100 ms of work at 25 ms (plus the unit that crosses it) per window of at least 100 ms: it needs four
    // windows, so the last unit starts at 300 ms or later, however busy the machine (a slower machine only
    // makes windows longer).
    expect(ranAt.at(-1)).toBeGreaterThanOrEqual(300);
    expect(timers).toBeGreaterThan(20); // the waits left the event loop to others
  });

  it('takes the turn back at the end of the turn from a unit that never says it is done', async () => {
    const scheduler = new FanoutScheduler(10, () => 0);
    await scheduler.admit(); // never handed back
    let admitted = false;
    const second = scheduler.admit().then(() => (admitted = true));
    await Promise.resolve();
    expect(admitted).toBe(false);
    await nextMacrotask();
    await second;
    expect(admitted).toBe(true);
  });
});

describe('PacedIterator', () => {
  it('yields the inner items in order and holds a turn from each item until the next is asked for', async () => {
    const scheduler = new FanoutScheduler(10, () => 0);
    const stream = new PacedIterator(items([1, 2, 3]), scheduler);
    expect((await stream.next()).value).toBe(1);
    let otherRan = false;
    const other = scheduler.run(() => (otherRan = true));
    await Promise.resolve();
    expect(otherRan).toBe(false); // item 1 is still being handled by its consumer
    expect((await stream.next()).value).toBe(2); // asking for the next hands the turn on first
    await other;
    expect(otherRan).toBe(true);
    expect((await stream.next()).value).toBe(3);
    expect((await stream.next()).done).toBe(true);
  });

  it('hands its turn back when the consumer leaves', async () => {
    const scheduler = new FanoutScheduler(10, () => 0);
    const stream = new PacedIterator(items([1, 2]), scheduler);
    await stream.next();
    await stream.return();
    let ran = false;
    await scheduler.run(() => (ran = true));
    expect(ran).toBe(true);
    expect(scheduler.backlog).toBe(0);
  });
});
