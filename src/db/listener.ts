import { Client } from 'pg';

export interface ListenerOptions {
  readonly url: string;
  /** What to call for a NOTIFY on each channel, with its payload. */
  readonly channels: Readonly<Record<string, (payload: string | undefined) => void>>;
  /** Called after each (re)connection: notifications may have been missed while disconnected. */
  readonly onConnect: () => void;
  readonly onError?: (err: unknown) => void;
}

/**
 * One LISTEN connection for every channel of the process, reconnecting by itself (backoff 250 ms
 * doubling to 5 s). Notifications are hints (a wake-up, a key to forget): `onConnect` tells the
 * owners that some may have been missed.
 */
export class PgListener {
  private client: Client | null = null;
  private stopped = false;
  private retryMs = 250;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly options: ListenerOptions) {}

  async start(): Promise<void> {
    await this.connect().catch((err) => this.retry(err));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new Client({ connectionString: this.options.url, connectionTimeoutMillis: 2000, application_name: 'calltrail-listener' });
    client.on('notification', (n) => this.options.channels[n.channel]?.(n.payload));
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('listener connection ended')));
    await client.connect();
    for (const channel of Object.keys(this.options.channels)) await client.query(`LISTEN ${channel}`);
    if (this.stopped) {
      await client.end();
      return;
    }
    this.client = client;
    this.retryMs = 250;
    this.options.onConnect();
  }

  private lost(client: Client, err: unknown): void {
    if (this.client !== client) return;
    this.client = null;
    client.end().catch(() => undefined);
    this.retry(err);
  }

  private retry(err: unknown): void {
    if (this.stopped) return;
    this.options.onError?.(err);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect().catch((e) => this.retry(e));
    }, this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, 5000);
  }
}
