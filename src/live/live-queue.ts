/**
 * A bounded push queue read as an async iterator. More than `max` undelivered items means the
 * consumer is too slow: the queue ends and `onOverflow` is called (the transport closes the socket).
 * Written by hand, not as an async generator, so `return()` ends it at once even while a reader waits.
 */
export class LiveQueue<T> implements AsyncIterableIterator<T> {
  private items: T[] = [];
  private waiter: ((result: IteratorResult<T>) => void) | null = null;
  private ended = false;

  constructor(
    private readonly max: number,
    private readonly onOverflow: () => void,
    private readonly onEnd: () => void,
  ) {}

  get size(): number {
    return this.items.length;
  }

  push(item: T): void {
    if (this.ended) return;
    if (this.waiter) {
      const waiter = this.waiter;
      this.waiter = null;
      waiter({ value: item, done: false });
      return;
    }
    this.items.push(item);
    if (this.items.length > this.max) {
      this.end();
      this.onOverflow();
    }
  }

  next(): Promise<IteratorResult<T>> {
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve({ value: item, done: false });
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.waiter = resolve));
  }

  return(): Promise<IteratorResult<T>> {
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.items = [];
    this.waiter?.({ value: undefined, done: true });
    this.waiter = null;
    this.onEnd();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
