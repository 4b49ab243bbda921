/**
 * A job run at start (after `firstMs`) and then `intervalMs` after the end of each run: runs never
 * overlap, `runNow` queues behind the run in flight, and `stop` cancels the next run and waits for the
 * one in progress. `run` must not reject (a failure is part of its result).
 */
export class PeriodicJob<T> {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<T> | null = null;
  private stopped = false;

  constructor(
    private readonly run: () => Promise<T>,
    private readonly intervalMs: number,
  ) {}

  /** True once `stop` was called. */
  get isStopped(): boolean {
    return this.stopped;
  }

  start(firstMs: number): void {
    this.schedule(firstMs);
  }

  /** Runs now, after the run in flight if any. */
  runNow(): Promise<T> {
    const run = (this.running ?? Promise.resolve()).then(() => this.run());
    this.running = run;
    void run.then(() => {
      if (this.running === run) this.running = null;
    });
    return run;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.runNow().then(() => this.schedule(this.intervalMs));
    }, ms);
    this.timer.unref();
  }
}
