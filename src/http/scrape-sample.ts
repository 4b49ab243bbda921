/**
 * A value read from the database for `/metrics`: read at most once per `ttlMs`, however often
 * Prometheus (or several) scrape, and never holding a scrape longer than `waitMs` (while PostgreSQL
 * is slow or away the last value read is served). One read at a time.
 */
export class ScrapeSample<T> {
  private value: T | null = null;
  private readAt = -Infinity;
  private reading: Promise<void> | null = null;

  constructor(
    private readonly read: () => Promise<T>,
    private readonly ttlMs = 1000,
    private readonly waitMs = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  /** The last value read (null before the first read succeeds), refreshed first when older than the TTL. */
  async get(): Promise<T | null> {
    if (this.now() - this.readAt >= this.ttlMs) {
      this.reading ??= this.refresh();
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.waitMs)));
      await Promise.race([this.reading, late]);
      clearTimeout(timer);
    }
    return this.value;
  }

  private async refresh(): Promise<void> {
    try {
      this.value = await this.read();
      this.readAt = this.now();
    } catch {
      // Keep the last value; the next scrape tries again.
    } finally {
      this.reading = null;
    }
  }
}
