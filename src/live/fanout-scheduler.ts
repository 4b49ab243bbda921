/** LIVE_FANOUT_BUDGET_MS's default, for callers that pass no budget. */
export const DEFAULT_FANOUT_BUDGET_MS = 2;

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
 */
export class FanoutScheduler {
  private turnStart: number | null = null;
  private turn = 0;
  private running = false;
  /** Units waiting for their turn: `first` ones (the hub's dispatch) before the others, each in arrival order. */
  private readonly waiting = { first: [] as ((ticket: Ticket) => void)[], rest: [] as ((ticket: Ticket) => void)[] };

  constructor(
    private readonly budgetMs: number,
    private readonly clock: () => number = () => performance.now(),
  ) {}

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
    this.startTurn();
    if (!this.running && this.backlog === 0 && !this.spent()) {
      this.running = true;
      return Promise.resolve(this.turn);
    }
    return new Promise((resolve) => (first ? this.waiting.first : this.waiting.rest).push(resolve));
  }

  /** The unit admitted with `ticket` has finished; the next one runs if the turn has budget left. */
  done(ticket: Ticket): void {
    if (ticket !== this.turn) return; // admitted in an earlier turn, whose slot is gone already
    this.running = false;
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

  /** True once the units of this turn have used its budget: a unit that does many small things stops here. */
  spent(): boolean {
    return this.turnStart !== null && this.clock() - this.turnStart >= this.budgetMs;
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
    this.turnStart = null;
    this.turn++;
    this.running = false;
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
