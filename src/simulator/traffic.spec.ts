import { compareEvents, foldCall } from '../domain/fold-call';
import { parseV1Callback, type CallbackEvent } from '../ingest/trtc-v1.schema';
import { isV4Callback, parseV4Callback } from '../ingest/trtc-v4.schema';
import { SIM_RESULTS } from './call-model';
import { Prng } from './prng';
import { planTraffic, summarizeCalls, type TrafficOptions } from './traffic';

const START_MS = Date.UTC(2024, 2, 11, 9, 0, 0);
const options = (over: Partial<TrafficOptions> = {}): TrafficOptions => ({
  seed: 42,
  rate: 20,
  durationSeconds: 60,
  apps: ['1400000001', '1400000002'],
  startMs: START_MS,
  speed: 10,
  v4Share: 0.3,
  users: 200,
  duplicateRate: 0.03,
  lateRate: 0.05,
  runTag: 't',
  ...over,
});

/** The events calltrail stores for a delivery, through its own parsers (the query lower-cased as the route does). */
function parse(d: { query: Readonly<Record<string, string>>; body: Readonly<Record<string, unknown>> }): CallbackEvent[] {
  const query = Object.fromEntries(Object.entries(d.query).map(([k, v]) => [k.toLowerCase(), v]));
  const body = JSON.parse(JSON.stringify(d.body)) as Record<string, unknown>;
  return isV4Callback(query, body) ? parseV4Callback(query.sdkappid, query, body) : [parseV1Callback(query.sdkappid, query, body)];
}

describe('Prng', () => {
  it('draws the same numbers from the same seed, and others from another', () => {
    const draw = (seed: number) => Array.from({ length: 5 }, ((r) => () => r.next())(new Prng(seed)));
    expect(draw(7)).toEqual(draw(7));
    expect(draw(7)).not.toEqual(draw(8));
    expect(draw(7).every((x) => x >= 0 && x < 1)).toBe(true);
  });
});

describe('planTraffic', () => {
  const plan = planTraffic(options());
  const long = planTraffic(options({ seed: 9, durationSeconds: 600, rate: 40 }));

  it('plans the same traffic for the same seed and other traffic for another', () => {
    expect(planTraffic(options())).toEqual(plan);
    expect(planTraffic(options({ seed: 43 })).deliveries).not.toEqual(plan.deliveries);
  });

  it('sends about `rate` callbacks per second over the run', () => {
    expect(long.callbacks / 600).toBeGreaterThan(40 * 0.8);
    expect(long.callbacks / 600).toBeLessThan(40 * 1.2);
  });

  it('ends most calls normally, then unanswered, rejected or cancelled, busy and interrupted least', () => {
    const { byResult, calls, byType, byGeneration } = summarizeCalls(long.calls);
    expect(byResult.NORMAL_END / calls).toBeGreaterThan(0.55);
    expect(byResult.NOT_ANSWER).toBeGreaterThan(Math.max(byResult.REJECT, byResult.CANCEL));
    expect(Math.min(byResult.REJECT, byResult.CANCEL)).toBeGreaterThan(Math.max(byResult.CALL_BUSY, byResult.INTERRUPT));
    expect(byResult.CALL_BUSY + byResult.INTERRUPT).toBeGreaterThan(0);
    expect(byType.group).toBeGreaterThan(0);
    expect(byGeneration.v4 / calls).toBeGreaterThan(0.2);
    expect(byGeneration.v4 / calls).toBeLessThan(0.4);
  });

  it('delivers some callbacks twice and some late, in time order', () => {
    const duplicates = plan.deliveries.filter((d) => d.duplicate);
    expect(duplicates.length).toBeGreaterThan(0);
    expect(plan.deliveries).toHaveLength(plan.callbacks + duplicates.length);
    expect(plan.deliveries.every((d, i) => i === 0 || plan.deliveries[i - 1].atMs <= d.atMs)).toBe(true);
    const late = plan.deliveries.filter((d, i) => !d.duplicate && plan.deliveries.slice(i + 1).some((e) => e.body.CallId === d.body.CallId && !e.duplicate && e.callback < d.callback));
    expect(late.length).toBeGreaterThan(0);
  });

  it('sends every callback in a shape calltrail accepts, timed within the run, the status callback of each call last', () => {
    const events = plan.deliveries.filter((d) => !d.duplicate).flatMap(parse);
    expect(events.every((e) => e.eventTime >= START_MS / 1000 - 1 && e.eventTime <= START_MS / 1000 + 60)).toBe(true);
    for (const call of plan.calls) {
      const mine = events.filter((e) => e.callId === call.callId).sort(compareEvents);
      expect(['CALL_RESULT', 'CALL_RECORD']).toContain(mine.at(-1)!.type);
      expect(mine[0].type).toMatch(/^(START_CALL|CALL_STARTED)$/);
    }
  });

  it('produces calls that calltrail folds to the result and answer the summary reports, whatever the delivery order', () => {
    const byCall = new Map<string, CallbackEvent[]>();
    for (const d of [...plan.deliveries].reverse()) for (const e of parse(d)) byCall.set(e.callId, [...(byCall.get(e.callId) ?? []), e]);
    const folded = plan.calls.map((c) => foldCall(byCall.get(c.callId)!));
    const summary = summarizeCalls(plan.calls);
    for (const result of SIM_RESULTS) expect(folded.filter((f) => f.result === result).length).toBe(summary.byResult[result]);
    expect(folded.filter((f) => f.acceptedAt !== null).length).toBe(summary.answered);
    expect(folded.every((f) => f.status === 'ENDED')).toBe(true);
  });

  it.each([
    [{ rate: 0 }, 'rate: expected a number of callbacks per second above 0, got 0'],
    [{ durationSeconds: 2 }, 'duration: expected at least 4 s at speed 10'],
    [{ apps: ['my-app'] }, 'apps: expected comma-separated numeric SDKAppIDs, got "my-app"'],
    [{ v4Share: 2 }, 'v4Share: expected a share from 0 to 1, got 2'],
  ])('refuses %j, naming the option', (over, message) => {
    expect(() => planTraffic(options(over))).toThrow(message);
  });
});
