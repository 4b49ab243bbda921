import { setTimeout as delay } from 'node:timers/promises';

/** Time, for the limiter and the retries: real by default, a fake one in unit specs. */
export interface Clock {
  now(): number;
  /** Resolves after `ms`; rejects when `signal` aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realClock: Clock = { now: Date.now, sleep: (ms, signal) => delay(Math.max(0, ms), undefined, { signal }) };

/**
 * At most `limit` requests in any `windowMs` (Tencent documents its limits per second,
 * docs/trtc-callbacks.md, section 7). A request holds its slot while in flight and for `windowMs`
 * after its answer came back, so Tencent, which counts arrivals, never sees more than `limit` in a
 * window whatever the network adds to each request's way there. Waiters are served in order.
 */
export class RateLimiter {
  private inFlight = 0;
  /** When each recent request's answer came back, oldest first. */
  private readonly finished: number[] = [];
  private tail: Promise<void> = Promise.resolve();
  private released: { promise: Promise<void>; resolve: () => void } = RateLimiter.signal();

  constructor(
    readonly limit: number,
    private readonly windowMs = 1000,
    private readonly clock: Clock = realClock,
  ) {
    if (!(limit >= 1)) throw new RangeError(`RateLimiter: expected a limit of at least 1, got ${limit}`);
  }

  /** Runs `task` once a slot is free; rejects without running it when `signal` aborts while waiting. */
  async run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.acquire(signal);
    try {
      return await task();
    } finally {
      this.inFlight--;
      this.finished.push(this.clock.now());
      const { resolve } = this.released;
      this.released = RateLimiter.signal();
      resolve();
    }
  }

  private acquire(signal?: AbortSignal): Promise<void> {
    const turn = this.tail.then(() => this.take(signal));
    this.tail = turn.catch(() => undefined);
    return turn;
  }

  private async take(signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      const now = this.clock.now();
      while (this.finished.length > 0 && this.finished[0] <= now - this.windowMs) this.finished.shift();
      if (this.inFlight + this.finished.length < this.limit) {
        this.inFlight++;
        return;
      }
      if (this.finished.length > 0) await this.clock.sleep(this.finished[0] + this.windowMs - now, signal);
      else await abortable(this.released.promise, signal); // every slot in flight: wait for an answer
    }
  }

  private static signal() {
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    return { promise, resolve };
  }
}

/** `promise`, or a rejection as soon as `signal` aborts. */
function abortable(promise: Promise<void>, signal?: AbortSignal): Promise<void> {
  if (!signal) return promise;
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}
