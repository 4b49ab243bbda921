import type { CallEventRecord } from '../calls/records';
import type { LiveQueue } from './live-queue';

/** Reads stored matching events after a position, one page at a time. */
export type ReplayPage = (afterPosition: string) => Promise<readonly CallEventRecord[]>;

/**
 * A subscriber's event stream: first the stored events after its cursor (replay), then the live
 * queue, which was filled from the moment the subscription registered. Events at or below the last
 * delivered position are skipped, so the seam has no gap and no duplicate.
 */
export class ResumedEvents implements AsyncIterableIterator<CallEventRecord> {
  private page: CallEventRecord[] = [];
  /** The last event the transport surely sent: it asks for the next one only after sending the previous. */
  private sent: string;

  constructor(
    private readonly live: LiveQueue<CallEventRecord>,
    private replay: ReplayPage | null,
    private last: string,
    private readonly pageSize: number,
  ) {
    this.sent = last;
  }

  /**
   * Where a cut-off subscriber resumes: after the last event surely sent. The event in flight when it
   * was cut off may then come twice (never not at all); its cursor tells.
   */
  get resumePosition(): string {
    return this.sent;
  }

  async next(): Promise<IteratorResult<CallEventRecord>> {
    this.sent = this.last;
    while (this.replay !== null) {
      const event = this.page.shift();
      if (event) return this.deliver(event);
      let page: readonly CallEventRecord[];
      try {
        page = await this.replay(this.last);
      } catch (err) {
        // graphql-ws does not call return() after next() throws: leave the hub ourselves.
        this.live.end();
        throw err;
      }
      this.page = [...page];
      if (page.length < this.pageSize) this.replay = null;
    }
    const buffered = this.page.shift();
    if (buffered) return this.deliver(buffered);
    for (;;) {
      const result = await this.live.next();
      if (result.done || BigInt(result.value.position) > BigInt(this.last)) return result.done ? result : this.deliver(result.value);
    }
  }

  return(): Promise<IteratorResult<CallEventRecord>> {
    this.replay = null;
    this.page = [];
    return this.live.return();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private deliver(event: CallEventRecord): IteratorResult<CallEventRecord> {
    this.last = event.position;
    return { value: event, done: false };
  }
}
