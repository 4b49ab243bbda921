import type { PullOptions, PullSummary } from './backfill.service';
import type { RecordWindow } from './records-api.schema';
import { ReconcileScheduler, type ReconcileReport } from './reconcile.scheduler';

const NOW = 1_718_600_000;

/** A backfill that records each pull; `behave` decides what a pull does. */
function fakeBackfill(apps: string[], behave: (app: string, options: PullOptions) => Promise<Partial<PullSummary>> = async () => ({})) {
  const pulls: { app: string; window: RecordWindow }[] = [];
  return {
    pulls,
    apps,
    clampWindow: (since: number, until: number) => ({ window: { since: Math.max(since, NOW - 7 * 86400 + 600), until }, clamped: false }),
    pull: async (app: string, window: RecordWindow, options: PullOptions = {}): Promise<PullSummary> => {
      pulls.push({ app, window });
      const got = await behave(app, options);
      return { sdkAppId: app, window, pages: 1, recordsSeen: 0, callsNew: 0, callsKnown: 0, recordsRefused: 0, ...got };
    },
  };
}

const always = async <T>(work: () => Promise<T>) => ({ acquired: true as const, value: await work() });
const never = async () => ({ acquired: false as const });

const scheduler = (backfill: ReturnType<typeof fakeBackfill>, over: Partial<ConstructorParameters<typeof ReconcileScheduler>[0]> = {}) =>
  new ReconcileScheduler({ backfill, intervalMs: 60_000, lookbackSeconds: 3 * 3600, exclusive: always, nowSeconds: () => NOW, ...over });

describe('ReconcileScheduler', () => {
  it('pulls every app over the lookback window and reports what each found', async () => {
    const backfill = fakeBackfill(['1', '2'], async (app) => ({ recordsSeen: 10, callsNew: app === '1' ? 3 : 0 }));
    const report = await scheduler(backfill).runNow();
    expect(backfill.pulls).toEqual([
      { app: '1', window: { since: NOW - 3 * 3600, until: NOW } },
      { app: '2', window: { since: NOW - 3 * 3600, until: NOW } },
    ]);
    expect(report.outcome).toBe('ok');
    expect(report.pulls.map((p) => [p.sdkAppId, p.callsNew])).toEqual([['1', 3], ['2', 0]]);
  });

  it('keeps within the 7 days Tencent keeps', async () => {
    const backfill = fakeBackfill(['1']);
    await scheduler(backfill, { lookbackSeconds: 30 * 86400 }).runNow();
    expect(backfill.pulls[0].window.since).toBe(NOW - 7 * 86400 + 600);
  });

  it('does nothing when another replica holds the lock', async () => {
    const backfill = fakeBackfill(['1']);
    expect(await scheduler(backfill, { exclusive: never }).runNow()).toEqual({ outcome: 'skipped', pulls: [], errors: [] });
    expect(backfill.pulls).toEqual([]);
  });

  it("goes on with the other apps when one fails, and reports the failure with the app's message", async () => {
    const backfill = fakeBackfill(['1', '2'], async (app) => {
      if (app === '1') throw new Error('app 1 (v4 records API): the UserSig is invalid');
      return { callsNew: 2 };
    });
    const report = await scheduler(backfill).runNow();
    expect(report).toMatchObject({ outcome: 'error', errors: [{ sdkAppId: '1', message: 'app 1 (v4 records API): the UserSig is invalid' }] });
    expect(report.pulls.map((p) => p.sdkAppId)).toEqual(['2']);
  });

  it('reports a failure to take the lock as an error, not a rejection', async () => {
    const report = await scheduler(fakeBackfill(['1']), { exclusive: () => Promise.reject(new Error('connection refused')) }).runNow();
    expect(report).toEqual({ outcome: 'error', pulls: [], errors: [{ sdkAppId: '*', message: 'connection refused' }] });
  });

  it('runs one run at a time: a second asked for meanwhile starts after the first', async () => {
    const events: string[] = [];
    const backfill = fakeBackfill(['1'], async () => {
      events.push('start');
      await new Promise((r) => setTimeout(r, 20));
      events.push('end');
      return {};
    });
    const s = scheduler(backfill);
    await Promise.all([s.runNow(), s.runNow()]);
    expect(events).toEqual(['start', 'end', 'start', 'end']);
  });

  it('on stop, aborts the run in flight and waits for it', async () => {
    let aborted = false;
    const reports: ReconcileReport[] = [];
    const backfill = fakeBackfill(['1', '2'], (_app, options) =>
      new Promise((_, reject) =>
        options.signal?.addEventListener('abort', () => {
          aborted = true;
          reject(options.signal?.reason);
        }),
      ),
    );
    const s = scheduler(backfill, { onReport: (r) => reports.push(r) });
    const run = s.runNow();
    await new Promise((r) => setTimeout(r, 10));
    await s.stop();
    expect(aborted).toBe(true);
    expect(await run).toMatchObject({ outcome: 'stopped' });
    expect(backfill.pulls.map((p) => p.app)).toEqual(['1']);
    expect(reports.map((r) => r.outcome)).toEqual(['stopped']);
  });

  it('runs on its own after the first delay, then every interval after each run ends', async () => {
    jest.useFakeTimers();
    try {
      const reports: ReconcileReport[] = [];
      const s = scheduler(fakeBackfill(['1']), { firstRunMs: 5_000, intervalMs: 60_000, onReport: (r) => reports.push(r) });
      s.start();
      await jest.advanceTimersByTimeAsync(4_999);
      expect(reports).toHaveLength(0);
      await jest.advanceTimersByTimeAsync(1);
      expect(reports).toHaveLength(1);
      await jest.advanceTimersByTimeAsync(60_000);
      expect(reports.map((r) => r.outcome)).toEqual(['ok', 'ok']);
      await s.stop();
      await jest.advanceTimersByTimeAsync(600_000);
      expect(reports).toHaveLength(2);
    } finally {
      jest.useRealTimers();
    }
  });
});
