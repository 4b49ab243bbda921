import { Client } from 'pg';

/**
 * A pg Client that always has an `error` listener. When PostgreSQL goes away mid-transaction, a
 * checked-out connection can emit a second error after TypeORM has removed its listener and before
 * the pool has added one; an `error` event with no listener would crash the process (and with it
 * every callback in flight). Errors still reach their queries and the pool as before.
 */
export class QuietClient extends Client {
  constructor(config?: ConstructorParameters<typeof Client>[0]) {
    super(config);
    this.on('error', () => undefined);
  }
}
