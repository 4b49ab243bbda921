import type { LiveOutlet, LiveSubscription } from './live-subscription';

/**
 * What graphql-ws iterates for a subscription whose messages the outbox writes: it yields nothing,
 * ends when the subscription ends (graphql-ws then sends `complete`, unless the socket is closing) and
 * throws when its replay fails (graphql-ws sends `error`). `return()` (the client's `complete`, or the
 * socket closing) ends the subscription.
 */
export class LiveControl implements AsyncIterableIterator<never> {
  constructor(private readonly sub: LiveSubscription<unknown>) {}

  next(): Promise<IteratorResult<never>> {
    return this.sub.closed.then(() => ({ value: undefined, done: true }));
  }

  return(): Promise<IteratorResult<never>> {
    this.sub.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

/**
 * A subscription read in-process as an async iterator of its entries' values, one at a time (the
 * outlet of `LiveHub.subscribeEvents` and `subscribeCalls`). Written by hand, not as an async generator,
 * so `return()` ends it at once even while a reader waits.
 */
export class EntryStream<R> implements AsyncIterableIterator<R>, LiveOutlet<R> {
  private sub: LiveSubscription<R> | null = null;
  private waiter: (() => void) | null = null;

  /** Reads `sub` (whose outlet is this stream). */
  attach(sub: LiveSubscription<R>): this {
    this.sub = sub;
    const wake = () => this.ready();
    sub.closed.then(wake, wake);
    return this;
  }

  ready(): void {
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.();
  }

  async next(): Promise<IteratorResult<R>> {
    const sub = this.sub!;
    for (;;) {
      const entry = sub.take();
      if (entry) return { value: entry.value!, done: false };
      if (sub.isEnded) {
        await sub.closed; // a failed replay throws here
        return { value: undefined, done: true };
      }
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  return(): Promise<IteratorResult<R>> {
    this.sub?.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
