import { PeriodicJob } from './periodic-job';

describe('PeriodicJob', () => {
  it('never overlaps runs, and stop waits for the one in progress and cancels the next', async () => {
    let active = 0;
    let most = 0;
    let runs = 0;
    const job = new PeriodicJob(async () => {
      active++;
      most = Math.max(most, active);
      await new Promise((r) => setTimeout(r, 20));
      active--;
      return ++runs;
    }, 10);
    job.start(0);
    const queued = await Promise.all([job.runNow(), job.runNow()]);
    expect(most).toBe(1);
    expect(queued[1]).toBe(queued[0] + 1);
    await job.stop();
    expect(job.isStopped).toBe(true);
    const after = runs;
    await new Promise((r) => setTimeout(r, 60));
    expect(runs).toBe(after);
    expect(active).toBe(0);
  });
});
