import { drawCall, RING_TIMEOUT, SIM_RESULTS, type CallModel, type SimResult } from './call-model';
import { Prng } from './prng';
import { renderCall } from './render';

/** What traffic to make. Pure inputs: the same options always give the same plan. */
export interface TrafficOptions {
  readonly seed: number;
  /** Callbacks per second, on average over the run. */
  readonly rate: number;
  readonly durationSeconds: number;
  /** SDKAppIDs the calls are spread over. */
  readonly apps: readonly string[];
  /** Unix ms of the run's start: the calls' times follow it. */
  readonly startMs: number;
  /** Simulated seconds per real second: a 90 s talk lasts 9 s at 10. */
  readonly speed: number;
  /** Share of calls sent as v4 callbacks (0 to 1). */
  readonly v4Share: number;
  /** Distinct users the calls are made between. */
  readonly users: number;
  /** Share of callbacks delivered twice, the second a second later (Tencent's retry after a lost reply). */
  readonly duplicateRate: number;
  /** Share of callbacks delivered late, after others of their call (order is not guaranteed, section 4). */
  readonly lateRate: number;
  /** Part of every CallId, so that runs do not mix their calls. */
  readonly runTag: string;
}

export interface PlannedCall {
  readonly sdkAppId: string;
  readonly callId: string;
  readonly generation: 'v1' | 'v4';
  /** Ms after the run's start. */
  readonly offsetMs: number;
  readonly model: CallModel;
}

/** One POST to make: `atMs` after the run's start. `callback` numbers the distinct callbacks; a duplicate repeats one. */
export interface Delivery {
  readonly atMs: number;
  readonly callback: number;
  readonly duplicate: boolean;
  readonly query: Readonly<Record<string, string>>;
  readonly body: Readonly<Record<string, unknown>>;
}

export interface TrafficPlan {
  readonly calls: readonly PlannedCall[];
  /** Distinct callbacks. */
  readonly callbacks: number;
  /** Every POST in time order, duplicates included. */
  readonly deliveries: readonly Delivery[];
}

/** The calls of a plan, counted as calltrail will report them once every callback is in. */
export interface CallSummary {
  readonly calls: number;
  readonly byResult: Readonly<Record<SimResult, number>>;
  /** Calls someone answered (calltrail's `answered`). */
  readonly answered: number;
  readonly byGeneration: Readonly<Record<'v1' | 'v4', number>>;
  readonly byType: Readonly<Record<'single' | 'group', number>>;
}

/** Simulated seconds every call needs at least: the longest ring, then the status callback. */
const CALL_MIN_SECONDS = RING_TIMEOUT + 4;
/** Calls drawn to estimate how many callbacks a call makes. */
const PROBE_CALLS = 400;

/** Checks the options, naming the one that is wrong. */
export function checkTrafficOptions(o: TrafficOptions): void {
  const bad = (field: string, expected: string, got: unknown) => new RangeError(`${field}: expected ${expected}, got ${JSON.stringify(got)}`);
  if (!(o.rate > 0)) throw bad('rate', 'a number of callbacks per second above 0', o.rate);
  if (!(o.speed >= 1)) throw bad('speed', 'simulated seconds per real second, at least 1', o.speed);
  if (!(o.durationSeconds * o.speed >= CALL_MIN_SECONDS + 1)) {
    throw bad('duration', `at least ${Math.ceil((CALL_MIN_SECONDS + 1) / o.speed)} s at speed ${o.speed} (a call rings up to ${RING_TIMEOUT} simulated seconds)`, o.durationSeconds);
  }
  if (o.apps.length === 0 || o.apps.some((a) => !/^\d{1,20}$/.test(a))) throw bad('apps', 'comma-separated numeric SDKAppIDs', o.apps.join(','));
  if (!(o.v4Share >= 0 && o.v4Share <= 1)) throw bad('v4Share', 'a share from 0 to 1', o.v4Share);
  if (!(Number.isInteger(o.users) && o.users >= 6)) throw bad('users', 'an integer of at least 6', o.users);
}

/** Mean callbacks per call for these options, from a sample drawn apart from the plan. */
function callbacksPerCall(o: TrafficOptions): number {
  const rng = new Prng(o.seed ^ 0x5eed);
  let n = 0;
  for (let i = 0; i < PROBE_CALLS; i++) {
    const ctx = { sdkAppId: '1', callId: 'probe', roomId: '1', clientIp: '10.0.0.1', startMs: 0, speed: o.speed };
    n += renderCall(drawCall(rng, o.users, 600), ctx, rng.chance(o.v4Share) ? 'v4' : 'v1').length;
  }
  return n / PROBE_CALLS;
}

/** The calls of the run: Poisson arrivals, each ending before the run does. */
function planCalls(o: TrafficOptions, rng: Prng): PlannedCall[] {
  const lastStart = o.durationSeconds - CALL_MIN_SECONDS / o.speed;
  // Calls start only until lastStart, so they come a little faster for the run's average to be `rate`.
  const meanGap = (callbacksPerCall(o) / o.rate) * (lastStart / o.durationSeconds);
  const calls: PlannedCall[] = [];
  for (let t = rng.exponential(meanGap); t < lastStart; t += rng.exponential(meanGap)) {
    const model = drawCall(rng, o.users, (o.durationSeconds - t) * o.speed - 1);
    const callId = `sim-${o.runTag}-${String(calls.length + 1).padStart(6, '0')}`;
    calls.push({ sdkAppId: rng.pick(o.apps), callId, generation: rng.chance(o.v4Share) ? 'v4' : 'v1', offsetMs: Math.round(t * 1000), model });
  }
  return calls;
}

/**
 * Plans a run: calls at Poisson times with realistic durations compressed by `speed`, each
 * rendered as the callbacks Tencent sends, spread a little in time, some late, some twice.
 */
export function planTraffic(o: TrafficOptions): TrafficPlan {
  checkTrafficOptions(o);
  const rng = new Prng(o.seed);
  const calls = planCalls(o, rng);
  const deliveries: Delivery[] = [];
  let callback = 0;
  for (const call of calls) {
    const ctx = { sdkAppId: call.sdkAppId, callId: call.callId, roomId: String(rng.int(100000, 999999)), clientIp: `10.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}`, startMs: o.startMs + call.offsetMs, speed: o.speed };
    for (const cb of renderCall(call.model, ctx, call.generation)) {
      const late = rng.chance(o.lateRate) ? rng.between(500, 3000) : 0;
      const atMs = Math.round(call.offsetMs + cb.atMs + rng.between(0, 150) + late);
      deliveries.push({ atMs, callback, duplicate: false, query: cb.query, body: cb.body });
      if (rng.chance(o.duplicateRate)) deliveries.push({ atMs: atMs + 1000 + Math.round(rng.between(0, 200)), callback, duplicate: true, query: cb.query, body: cb.body });
      callback++;
    }
  }
  deliveries.sort((a, b) => a.atMs - b.atMs || a.callback - b.callback);
  return { calls, callbacks: callback, deliveries };
}

export function summarizeCalls(calls: readonly PlannedCall[]): CallSummary {
  const byResult = Object.fromEntries(SIM_RESULTS.map((r) => [r, 0])) as Record<SimResult, number>;
  const byGeneration = { v1: 0, v4: 0 };
  const byType = { single: 0, group: 0 };
  let answered = 0;
  for (const c of calls) {
    byResult[c.model.result]++;
    byGeneration[c.generation]++;
    byType[c.model.callType]++;
    if (c.model.acceptAt !== null) answered++;
  }
  return { calls: calls.length, byResult, answered, byGeneration, byType };
}
