/** What the refresher needs of the rollup repository. */
export interface RollupStore {
  refresh(limit: number): Promise<number | null>;
}

export interface StatsRefresherOptions {
  /** Pause between two turns, in ms (`STATS_ROLLUP_INTERVAL_MS`). */
  readonly intervalMs: number;
  /** Hours recomputed per transaction: keeps each one short whatever the backlog. */
  readonly batchHours?: number;
  readonly onError: (err: unknown) => void;
}

/**
 * Brings the hourly stats rollup up to date every `intervalMs`: each turn refreshes marked hours, a
 * batch per transaction, until none is left or another replica holds the refresh lock. A failed batch
 * (a statement timeout on hours of many calls) halves the next one, down to one hour; each success
 * doubles it back up to `batchHours`. Turns never overlap; `stop` waits for the one in progress.
 */
export class StatsRefresher {
  private timer: NodeJS.Timeout | null = null;
  private turn: Promise<void> | null = null;
  private stopped = false;
  private readonly batchHours: number;
  private batch: number;

  constructor(
    private readonly store: RollupStore,
    private readonly options: StatsRefresherOptions,
  ) {
    this.batchHours = options.batchHours ?? 100;
    this.batch = this.batchHours;
  }

  start(): void {
    this.schedule();
  }

  /** One turn now; returns the hours refreshed. */
  async runOnce(): Promise<number> {
    let total = 0;
    while (!this.stopped) {
      const limit = this.batch;
      const refreshed = await this.store.refresh(limit).catch((err: unknown) => {
        this.batch = Math.max(1, Math.floor(limit / 2));
        throw err;
      });
      this.batch = Math.min(this.batchHours, limit * 2);
      if (refreshed === null) break;
      total += refreshed;
      if (refreshed < limit) break;
    }
    return total;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.turn;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.turn = this.runOnce()
        .then(() => undefined, this.options.onError)
        .finally(() => {
          this.turn = null;
          this.schedule();
        });
    }, this.options.intervalMs);
    this.timer.unref();
  }
}
