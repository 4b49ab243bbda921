import { SIM_RESULTS } from '../../src/simulator/call-model';
import { runSimulation, type SimulationReport } from '../../src/simulator/simulation';
import { startTestApp, type TestApp } from '../support/app';
import { runCli } from '../support/cli';
import { createKey, gql } from '../support/graphql';

const APPS = ['1400000001', '1400000002'];
const SECRET = 'callback-secret-0123';
const SIGN_TOKEN = 'chat-sign-token';
let t: TestApp;
let key: string;

beforeAll(async () => {
  t = await startTestApp({ SDKAPPIDS: APPS.join(','), CALLBACK_SECRET: SECRET, CALLBACK_SIGN_TOKEN: SIGN_TOKEN });
  key = await createKey(t.db.dataSource, 'bi', null);
});
afterAll(() => t.stop());

describe('npm run simulate against calltrail', () => {
  it('makes calls that calltrail counts by result exactly as the simulator reports them', async () => {
    const args = ['--url', t.baseUrl, '--rate', '40', '--duration', '6', '--speed', '20', '--apps', APPS.join(','), '--seed', '11'];
    const run = await runCli('simulate', [...args, '--token', SECRET, '--sign-token', SIGN_TOKEN, '--v4-share', '0.3', '--duplicates', '0.05', '--late', '0.1', '--json']);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as SimulationReport & { seed: number };
    expect(report.seed).toBe(11);
    expect(report.answered).toBe(report.callbacks);
    expect(report.duplicates).toBeGreaterThan(0);
    expect(report.summary.calls).toBeGreaterThan(10);

    const stats = await gql(t.baseUrl, key, `{ callStats(groupBy: [RESULT]) { result calls answered } }`);
    expect(stats.errors).toBeUndefined();
    const counted = Object.fromEntries(stats.data!.callStats.map((s: { result: string; calls: number }) => [s.result, s.calls]));
    const reported = Object.fromEntries(SIM_RESULTS.filter((r) => report.summary.byResult[r] > 0).map((r) => [r, report.summary.byResult[r]]));
    expect(counted).toEqual(reported);
    expect(stats.data!.callStats.reduce((n: number, s: { answered: number }) => n + s.answered, 0)).toBe(report.summary.answered);
    for (const result of SIM_RESULTS) {
      const page = await gql(t.baseUrl, key, `query($r: [CallResult!]) { calls(filter: { result: $r }) { totalCount } }`, { r: [result] });
      expect([result, page.data!.calls.totalCount]).toEqual([result, report.summary.byResult[result]]);
    }
  }, 60000);

  it('retries a callback calltrail does not answer 200, like Tencent, then gives it up', async () => {
    const report = await runSimulation(
      { seed: 3, rate: 10, durationSeconds: 2, apps: APPS, startMs: Date.now(), speed: 20, v4Share: 0, users: 20, duplicateRate: 0, lateRate: 0, runTag: 'refused' },
      { url: t.baseUrl, path: '/callback', token: 'not-the-secret', signToken: SIGN_TOKEN, retryDelaysMs: [20, 20], maxInFlight: 16, requestTimeoutMs: 5000 },
    );
    expect(report.callbacks).toBeGreaterThan(0);
    expect(report.answered).toBe(0);
    expect(report.requests).toBe(report.deliveries * 3);
    expect(report.retries).toBe(report.deliveries * 2);
    expect(report.failures).toEqual({ '401 BAD_TOKEN': report.deliveries });
  }, 30000);

  it('explains a bad option without needing a server or a database', async () => {
    const run = await runCli('simulate', ['--rate', 'fast']);
    expect(run).toMatchObject({ code: 1, stderr: expect.stringContaining('--rate: expected callbacks per second, above 0, got "fast"') });
  }, 30000);
});
