import { Client } from 'pg';

/**
 * Sent once on every new connection, before anything else: timestamps are read as PostgreSQL's ISO
 * text (pg's parser, `parseTimestamptz` and `isoFromUtcText` in db/timestamps.ts read no other), so a
 * server or database whose default DateStyle is another ('SQL, DMY', 'German') is read right too. The
 * order of day and month in input is left as it is: calltrail writes only unambiguous ISO texts.
 */
export const SESSION_SETUP = "SET DateStyle = 'ISO'";

/**
 * A pg Client that always has an `error` listener. When PostgreSQL goes away mid-transaction, a
 * checked-out connection can emit a second error after TypeORM has removed its listener and before
 * the pool has added one; an `error` event with no listener would crash the process (and with it
 * every callback in flight). Errors still reach their queries and the pool as before.
 *
 * It connects, then sends {@link setup} (one simple-protocol message); a connection that cannot
 * take it is closed and its error reported.
 */
export class QuietClient extends Client {
  constructor(config?: ConstructorParameters<typeof Client>[0]) {
    super(config);
    this.on('error', () => undefined);
  }

  /** What a new connection is sent before anything else: {@link SESSION_SETUP}. */
  protected setup(): string {
    return SESSION_SETUP;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override connect(callback?: (...args: any[]) => void): any {
    const ready = (super.connect() as Promise<unknown>)
      .then(() => (Client.prototype.query as (this: Client, text: string) => Promise<unknown>).call(this, this.setup()))
      .then(
        () => this,
        (err: unknown) => {
          this.end().catch(() => undefined);
          throw err;
        },
      );
    if (!callback) return ready;
    ready.then(() => callback(null, this), callback);
    return undefined;
  }
}
