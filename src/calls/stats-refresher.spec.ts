import { StatsRefresher, type RollupStore } from './stats-refresher';

/** A store that answers refreshes from a script (hours refreshed, or null for "another replica holds the lock"). */
class ScriptedStore implements RollupStore {
  readonly limits: number[] = [];
  constructor(private readonly answers: (number | null)[]) {}
  async refresh(limit: number): Promise<number | null> {
    this.limits.push(limit);
    return this.answers.shift() ?? 0;
  }
}

const options = { intervalMs: 10, batchHours: 5, onError: () => undefined };

describe('StatsRefresher', () => {
  it('refreshes batch after batch while batches come back full', async () => {
    const store = new ScriptedStore([5, 5, 2, 5]);
    expect(await new StatsRefresher(store, options).runOnce()).toBe(12);
    expect(store.limits).toEqual([5, 5, 5]);
  });

  it('ends its turn when another replica holds the lock', async () => {
    const store = new ScriptedStore([5, null, 5]);
    expect(await new StatsRefresher(store, options).runOnce()).toBe(5);
    expect(store.limits).toHaveLength(2);
  });

  it('keeps taking turns after a failed one, and stops taking them once stopped', async () => {
    let calls = 0;
    const errors: unknown[] = [];
    const store: RollupStore = {
      refresh: async () => {
        calls++;
        if (calls === 1) throw new Error('connection lost');
        return 0;
      },
    };
    const refresher = new StatsRefresher(store, { ...options, onError: (err) => errors.push(err) });
    refresher.start();
    while (calls < 3) await new Promise((r) => setTimeout(r, 5));
    await refresher.stop();
    const after = calls;
    await new Promise((r) => setTimeout(r, 50));
    expect(errors).toEqual([new Error('connection lost')]);
    expect(calls).toBe(after);
  });

  it('halves the batch after a failed one and grows it back after each success', async () => {
    const answers: (number | Error)[] = [new Error('statement timeout'), new Error('statement timeout'), 2, 4, 0];
    const limits: number[] = [];
    const store: RollupStore = {
      refresh: async (limit) => {
        limits.push(limit);
        const answer = answers.shift() ?? 0;
        if (answer instanceof Error) throw answer;
        return answer;
      },
    };
    const refresher = new StatsRefresher(store, { ...options, batchHours: 8 });
    await expect(refresher.runOnce()).rejects.toThrow('statement timeout');
    await expect(refresher.runOnce()).rejects.toThrow('statement timeout');
    expect(await refresher.runOnce()).toBe(6);
    expect(limits).toEqual([8, 4, 2, 4, 8]);
  });
});
