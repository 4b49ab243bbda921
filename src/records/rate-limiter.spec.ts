import { RateLimiter, type Clock } from './rate-limiter';

/** Virtual time: `sleep` waits for `drive` to move the clock. */
class FakeClock implements Clock {
  t = 0;
  private timers: { at: number; resolve: () => void; reject: (e: unknown) => void }[] = [];
  now = () => this.t;
  sleep = (ms: number, signal?: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
      const timer = { at: this.t + Math.max(0, ms), resolve, reject };
      this.timers.push(timer);
      signal?.addEventListener('abort', () => {
        this.timers = this.timers.filter((x) => x !== timer);
        reject(signal.reason);
      });
    });

  /** Runs until `done` settles, jumping to each next timer once nothing else can run. */
  async drive(done: Promise<unknown>): Promise<void> {
    let settled = false;
    void done.then(() => (settled = true), () => (settled = true));
    for (let i = 0; i < 10_000 && !settled; i++) {
      await new Promise((r) => setImmediate(r));
      if (settled || this.timers.length === 0) continue;
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers.shift()!;
      this.t = next.at;
      next.resolve();
    }
    expect(settled).toBe(true);
  }
}

interface Span {
  start: number;
  end: number;
}

/** Runs one task per duration through the limiter; returns when each started and ended. */
async function runAll(clock: FakeClock, limiter: RateLimiter, durations: readonly number[]): Promise<Span[]> {
  const spans: Span[] = [];
  const all = Promise.all(
    durations.map((d) =>
      limiter.run(async () => {
        const span = { start: clock.now(), end: -1 };
        spans.push(span);
        await clock.sleep(d);
        span.end = clock.now();
      }),
    ),
  );
  await clock.drive(all);
  return spans;
}

/** The most tasks in flight or answered less than `windowMs` before some task started. */
function busiest(spans: readonly Span[], windowMs: number): number {
  return Math.max(...spans.map((s) => spans.filter((o) => o.start <= s.start && o.end > s.start - windowMs).length));
}

describe('RateLimiter', () => {
  it('starts `limit` tasks at once, then each next one a window after an earlier one was answered', async () => {
    const clock = new FakeClock();
    const spans = await runAll(clock, new RateLimiter(3, 1000, clock), Array(7).fill(100));
    expect(spans.map((s) => s.start)).toEqual([0, 0, 0, 1100, 1100, 1100, 2200]);
  });

  it('never has more than `limit` tasks in flight or answered within a window, whatever they take', async () => {
    const clock = new FakeClock();
    const durations = Array.from({ length: 60 }, (_, i) => [5, 900, 40, 1500, 250, 0, 3000][i % 7]);
    const spans = await runAll(clock, new RateLimiter(4, 1000, clock), durations);
    expect(spans).toHaveLength(60);
    expect(busiest(spans, 1000)).toBe(4);
  });

  it('waits for an answer when every slot is still in flight', async () => {
    const clock = new FakeClock();
    const spans = await runAll(clock, new RateLimiter(2, 1000, clock), [3000, 5000, 10]);
    expect(spans[2].start).toBe(4000); // the first answer came back at 3000, its slot is free a window later
  });

  it('serves waiters in the order they came', async () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter(1, 1000, clock);
    const order: number[] = [];
    const all = Promise.all([0, 1, 2, 3].map((i) => limiter.run(async () => void order.push(i))));
    await clock.drive(all);
    expect(order).toEqual([0, 1, 2, 3]);
    expect(clock.now()).toBe(3000);
  });

  it('rejects a waiter whose signal aborts without running its task, and goes on with the others', async () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter(1, 1000, clock);
    const ran: string[] = [];
    const abort = new AbortController();
    const first = limiter.run(async () => void ran.push('first'));
    const aborted = limiter.run(async () => void ran.push('aborted'), abort.signal);
    const third = limiter.run(async () => void ran.push('third'));
    abort.abort(new Error('stop'));
    await expect(aborted).rejects.toThrow('stop');
    await clock.drive(Promise.all([first, third]));
    expect(ran).toEqual(['first', 'third']);
  });

  it('frees the slot of a task that failed, a window after it failed', async () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter(1, 1000, clock);
    const failed = limiter.run(async () => {
      await clock.sleep(50);
      throw new Error('boom');
    });
    failed.catch(() => undefined);
    let startedAt = -1;
    const next = limiter.run(async () => void (startedAt = clock.now()));
    await clock.drive(Promise.allSettled([failed, next]));
    await expect(failed).rejects.toThrow('boom');
    expect(startedAt).toBe(1050);
  });

  it('refuses a limit below 1', () => {
    expect(() => new RateLimiter(0)).toThrow('RateLimiter: expected a limit of at least 1, got 0');
  });
});
