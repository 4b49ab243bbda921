/** LIVE_FANOUT_BUDGET_MS's default, for callers that pass no budget. */
export const DEFAULT_FANOUT_BUDGET_MS = 2;

/** The window over which the share is counted, in ms. */
export const FANOUT_WINDOW_MS = 100;

/** Proof of admission, handed back to `done`. */
export type Ticket = number;

/**
 * Shares the event loop between the live fan-out and everything else (docs/design.md, principle 10).
 *
 * Without it the fan-out runs as one chain of work: the hub matches and renders a page of events for
 * every group of subscriptions, and the sockets write every subscriber's messages back to back, while
 * the HTTP sockets that carry callbacks wait for the chain to end. Here the fan-out is cut into units
 * (the hub's dispatch, in steps: one event matched, one group's rendering; one socket's batch of
 * writes), run one at a time in the order they asked, dispatch first. Once the units of one turn of the
 * event loop have used `budgetMs`, the next waits for `setImmediate`: that runs after the poll phase, so
 * pending I/O (callbacks to answer, commits to acknowledge) goes first. A backlog left behind stays in
 * the subscribers' bounded queues.
 *
 * A unit that does not hand its turn back (it awaits I/O, or its consumer went away) holds it only until
 * the turn ends: every turn starts with no unit running, so a lost `done` costs one turn, never a stall.
 *
 * The budget per turn bounds how long I/O waits; it does not bound how much of the time the fan-out
 * takes, since turns follow each other as fast as the event loop spins. `share` does: once the turns of
 * the current window of FANOUT_WINDOW_MS have used `share` of it, the next turn waits for the window's
 * end (a timer), so HTTP, the ingest transactions' round trips and PostgreSQL on the same cores get the
 * rest even while the fan-out has a backlog. The backlog stays in the subscribers' bounded queues, and
 * a subscriber that falls too far behind is cut with a resume cursor, as before.
 */
export class FanoutScheduler {
  private turnStart: number | null = null;
  /** When the last unit of this turn finished: the turn's busy time ends there. */
  private lastDone: number | null = null;
  private turn = 0;
  private running = false;
  /** Set while the window's share is spent and the next turn waits for its timer. */
  private paused = false;
  private windowStart: number;
  private windowUsed = 0;
  /** Units waiting for their turn: `first` ones (the hub's dispatch) before the others, each in arrival order. */
  private readonly waiting = { first: [] as ((ticket: Ticket) => void)[], rest: [] as ((ticket: Ticket) => void)[] };

  constructor(
    private readonly budgetMs: number,
    private readonly clock: () => number = () => performance.now(),
    private readonly share = 1,
    private readonly windowMs = FANOUT_WINDOW_MS,
  ) {
    this.windowStart = clock();
  }

  /** Units waiting for their turn (for tests and metrics). */
  get backlog(): number {
    return this.waiting.first.length + this.waiting.rest.length;
  }

  /**
   * Resolves when this unit may run: at once while the turn has budget and nobody runs or waits.
   * `first` units run before every waiting unit that is not: the hub's dispatch is cheap and must keep
   * filling the subscribers' queues, or a subscriber that cannot keep up would never reach its bound
   * and be cut, and the fan-out would take its whole budget turn after turn.
   */
  admit(first = false): Promise<Ticket> {
    if (!this.paused) this.startTurn();
    if (!this.paused && !this.running && this.backlog === 0 && !this.spent()) {
      this.running = true;
      return Promise.resolve(this.turn);
    }
    return new Promise((resolve) => (first ? this.waiting.first : this.waiting.rest).push(resolve));
  }

  /** The unit admitted with `ticket` has finished; the next one runs if the turn has budget left. */
  done(ticket: Ticket): void {
    if (ticket !== this.turn) return; // admitted in an earlier turn, whose slot is gone already
    this.running = false;
    this.lastDone = this.clock();
    if (this.backlog > 0 && !this.spent()) this.handOff();
  }

  /** Runs `unit` (synchronous) as one unit of fan-out; `first` as in `admit`. */
  async run<T>(unit: () => T, first = false): Promise<T> {
    const ticket = await this.admit(first);
    try {
      return unit();
    } finally {
      this.done(ticket);
    }
  }

  /**
   * Runs the steps of `work` as units (`first` as in `admit`): one admission runs steps until the turn's
   * budget is spent, so many small steps (one group's rendering, one event's matching) cost few turns.
   */
  async runSteps(work: Iterator<unknown>, first = false): Promise<void> {
    let done = false;
    while (!done) {
      await this.run(() => {
        do done = work.next().done === true;
        while (!done && !this.spent());
      }, first);
    }
  }

  /** True once the units of this turn have used its budget, or the window its share: a unit that does many small things stops here. */
  spent(): boolean {
    if (this.paused) return true;
    if (this.turnStart === null) return false;
    const now = this.clock();
    return now - this.turnStart >= this.budgetMs || (this.share < 1 && this.windowUsed + (now - this.turnStart) >= this.share * this.windowMs && now - this.windowStart < this.windowMs);
  }

  /** Time the fan-out may still wait before its next turn: 0, or until the window whose share is spent ends. */
  private windowWait(): number {
    const now = this.clock();
    if (now - this.windowStart >= this.windowMs) {
      this.windowStart = now;
      this.windowUsed = 0;
      return 0;
    }
    return this.windowUsed >= this.share * this.windowMs ? this.windowStart + this.windowMs - now : 0;
  }

  private handOff(): void {
    this.running = true;
    (this.waiting.first.shift() ?? this.waiting.rest.shift())?.(this.turn);
  }

  /** The first unit of a turn notes the time and schedules the turn's end (the next check phase). */
  private startTurn(): void {
    if (this.turnStart !== null) return;
    this.turnStart = this.clock();
    setImmediate(() => this.endTurn());
  }

  private endTurn(): void {
    if (this.turnStart !== null && this.lastDone !== null) this.windowUsed += Math.max(0, this.lastDone - this.turnStart);
    this.turnStart = null;
    this.lastDone = null;
    this.turn++;
    this.running = false;
    if (this.backlog === 0) return;
    const wait = this.share < 1 ? this.windowWait() : 0;
    if (wait > 0) {
      this.paused = true;
      setTimeout(() => {
        this.paused = false;
        this.windowStart = this.clock(); // the spent window has ended: a new one starts
        this.windowUsed = 0;
        this.nextTurn();
      }, Math.ceil(wait));
      return;
    }
    this.nextTurn();
  }

  private nextTurn(): void {
    if (this.backlog === 0) return;
    this.startTurn();
    this.handOff(); // every turn runs at least one unit, whatever the budget
  }
}

/**
 * A stream read in-process whose every item is one unit of the scheduler: admitted before it is handed
 * to the reader, finished when the reader asks for the next one, or leaves. Order is the inner iterator's.
 */
export class PacedIterator<T> implements AsyncIterableIterator<T> {
  private ticket: Ticket | null = null;

  constructor(
    private readonly inner: AsyncIterator<T>,
    private readonly scheduler: FanoutScheduler,
  ) {}

  async next(): Promise<IteratorResult<T>> {
    this.finish();
    const result = await this.inner.next();
    if (!result.done) this.ticket = await this.scheduler.admit();
    return result;
  }

  return(): Promise<IteratorResult<T>> {
    this.finish();
    return this.inner.return?.() ?? Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private finish(): void {
    if (this.ticket === null) return;
    this.scheduler.done(this.ticket);
    this.ticket = null;
  }
}
