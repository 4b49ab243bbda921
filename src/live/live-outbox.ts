import type { FanoutScheduler } from './fanout-scheduler';
import type { LiveOutlet, LiveSubscription } from './live-subscription';

/** The socket under an outbox, as the transport exposes it. */
export interface Wire {
  readonly open: boolean;
  /** True while the socket's send buffer is over its high-water mark: writing waits for `onDrain`. */
  readonly full: boolean;
  /** Writes between `cork()` and `uncork()` leave in as few system calls as possible. */
  cork(): void;
  uncork(): void;
  /** Calls `fn` once, when the send buffer has drained. */
  onDrain(fn: () => void): void;
}

/** One subscription's side of an outbox: it writes that subscription's entries (the transport frames them). */
class Port<R> implements LiveOutlet<R> {
  sub: LiveSubscription<R> | null = null;
  queued = false;

  constructor(
    private readonly outbox: LiveOutbox<R>,
    readonly write: (value: R) => void,
  ) {}

  ready(sub: LiveSubscription<R>): void {
    this.sub = sub;
    if (this.queued) return;
    this.queued = true;
    this.outbox.enqueue(this);
  }
}

/**
 * The live messages of one socket (docs/design.md, principle 10). Subscriptions say when they have
 * entries; the outbox writes them in drains, each one unit of the fan-out scheduler: all the ready
 * messages of the socket in one corked batch (one system call for many small messages), until the
 * turn's budget is spent or the socket's buffer is full. A socket that does not drain leaves its
 * subscriptions' queues to grow until they are cut; the outbox never buffers more than the socket does.
 */
export class LiveOutbox<R> {
  private ready: Port<R>[] = [];
  private scheduled = false;
  private waitingForDrain = false;
  private closed = false;

  constructor(
    private readonly wire: Wire,
    private readonly scheduler: FanoutScheduler,
  ) {}

  /** The outlet of one subscription; `write` sends one of its entries as one message. */
  outlet(write: (value: R) => void): LiveOutlet<R> {
    return new Port(this, write);
  }

  /** The socket closed: nothing more is written. */
  close(): void {
    this.closed = true;
    this.ready = [];
  }

  /** @internal A port has entries. */
  enqueue(port: Port<R>): void {
    if (this.closed) return;
    this.ready.push(port);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.waitingForDrain || this.closed) return;
    this.scheduled = true;
    void this.scheduler.run(() => this.drain());
  }

  private drain(): void {
    this.scheduled = false;
    if (this.closed || !this.wire.open) return this.close();
    this.wire.cork();
    try {
      this.writeReady();
    } finally {
      this.wire.uncork();
    }
  }

  private writeReady(): void {
    while (this.ready.length > 0) {
      const port = this.ready[0];
      for (let entry = port.sub?.take(); entry; entry = port.sub?.take()) {
        port.write(entry.value!);
        if (this.wire.full) return this.pause();
        if (this.scheduler.spent()) return this.schedule(); // the rest in a later unit, from this port on
      }
      port.queued = false;
      this.ready.shift();
    }
  }

  /** The socket's buffer is full: go on when it drains. */
  private pause(): void {
    this.waitingForDrain = true;
    this.wire.onDrain(() => {
      this.waitingForDrain = false;
      this.schedule();
    });
  }
}
