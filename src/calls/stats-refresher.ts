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
 * batch per transaction, until none is left or another replica holds the refresh lock. Turns never
 * overlap; `stop` waits for the one in progress.
 */
export class StatsRefresher {
  private timer: NodeJS.Timeout | null = null;
  private turn: Promise<void> | null = null;
  private stopped = false;
  private readonly batchHours: number;

  constructor(
    private readonly store: RollupStore,
    private readonly options: StatsRefresherOptions,
  ) {
    this.batchHours = options.batchHours ?? 100;
  }

  start(): void {
    this.schedule();
  }

  /** One turn now; returns the hours refreshed. */
  async runOnce(): Promise<number> {
    let total = 0;
    while (!this.stopped) {
      const refreshed = await this.store.refresh(this.batchHours);
      if (refreshed === null) break;
      total += refreshed;
      if (refreshed < this.batchHours) break;
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
