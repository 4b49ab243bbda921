/**
 * A realistic TRTC traffic model for seeding benches: one-to-one and group calls, audio and video,
 * Tencent's outcome mix, every v1 callback each side would send (docs/trtc-callbacks.md, sections 2
 * and 3), spread over a time window with a day-night cycle. Deterministic for a given seed.
 */

/** One callback as Tencent would POST it. */
export interface SeedCallback {
  readonly query: Record<string, string>;
  readonly body: Record<string, unknown>;
}

export interface DatasetOptions {
  readonly apps: readonly string[];
  readonly users: number;
  /** Unix seconds: calls start in [from, to). */
  readonly from: number;
  readonly to: number;
}

/** mulberry32: small, fast and good enough for test data. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Outcome = 'normal_end' | 'not_answer' | 'reject' | 'cancel' | 'call_busy' | 'interrupt';

/** One-to-one outcome mix: most calls are answered; the rest as TRTC apps typically see them. */
const SINGLE_OUTCOMES: [Outcome, number][] = [
  ['normal_end', 0.68],
  ['not_answer', 0.12],
  ['reject', 0.08],
  ['cancel', 0.07],
  ['call_busy', 0.03],
  ['interrupt', 0.02],
];

const PLATFORMS = ['iOS', 'Android', 'Web', 'miniProgram'];

function pick<T>(rand: () => number, weighted: [T, number][]): T {
  let r = rand();
  for (const [value, weight] of weighted) {
    r -= weight;
    if (r < 0) return value;
  }
  return weighted[weighted.length - 1][0];
}

/** Users are not equally busy: a power law puts a few heavy users next to many light ones. */
const userOf = (rand: () => number, users: number): string => `u${Math.floor(users * rand() ** 2)}`;

/** A start time in [from, to) weighted towards the day (UTC+8 office hours). */
function startTime(rand: () => number, o: DatasetOptions): number {
  for (;;) {
    const t = o.from + Math.floor(rand() * (o.to - o.from));
    const hour = (Math.floor(t / 3600) + 8) % 24;
    if (rand() < (hour >= 8 && hour < 23 ? 1 : 0.25)) return t;
  }
}

/** The callbacks of call number `n`, in the order they happened. */
export function callCallbacks(n: number, rand: () => number, o: DatasetOptions): SeedCallback[] {
  const app = o.apps[n % o.apps.length];
  const group = rand() < 0.15;
  const media = rand() < 0.4 ? 'video' : 'audio';
  const callId = `seed-${n}`;
  const caller = userOf(rand, o.users);
  const callees: string[] = [];
  for (let i = 0, k = group ? 2 + Math.floor(rand() * 4) : 1; i < k; i++) {
    let u = userOf(rand, o.users);
    while (u === caller || callees.includes(u)) u = `u${Math.floor(rand() * o.users)}`;
    callees.push(u);
  }
  const t0 = startTime(rand, o);
  const outcome: Outcome = group ? 'normal_end' : pick(rand, SINGLE_OUTCOMES);
  const ring = 2 + Math.floor(rand() * (outcome === 'not_answer' ? 28 : 12));
  const talk = 10 + Math.floor(rand() ** 2 * 1800);
  const platform = PLATFORMS[Math.floor(rand() * PLATFORMS.length)];
  const out: SeedCallback[] = [];
  const common = { RoomId: `room-${n}`, TotalNum: callees.length + 1, MediaType: media, CallType: group ? 'group' : 'single', CallId: callId };
  const send = (user: string, role: 'caller' | 'callee', event: string, at: number, extra: Record<string, unknown> = {}) =>
    out.push({
      query: { sdkappid: app, command: `${role}_${event}`, contenttype: 'json', clientip: '10.0.0.1', optplatform: platform },
      body: { UserId: user, ...common, Role: role, Event: event, CallResult: '', EventTime: at, ...extra },
    });
  const status = (result: Outcome, times: Record<string, number>) =>
    out.push({
      query: { sdkappid: app, command: result, contenttype: 'json', clientip: '10.0.0.1', optplatform: platform },
      body: { UserId: caller, ...common, Role: 'caller', CallResult: result, EventTime: times.EndTs, ...times },
    });

  send(caller, 'caller', 'start_call', t0);
  for (const c of callees) send(c, 'callee', 'receive_call', t0);
  const end = t0 + ring + (outcome === 'normal_end' || outcome === 'interrupt' ? talk : 0);
  if (group) {
    const joined = callees.filter(() => rand() < 0.75);
    for (const c of callees) send(c, 'callee', joined.includes(c) ? 'accept_call' : 'not_answer_call', t0 + ring);
    for (const c of [caller, ...joined]) send(c, c === caller ? 'caller' : 'callee', 'call_end', end, { StartCallTs: t0, AcceptTs: t0 + ring, EndTs: end });
    status('normal_end', { StartCallTs: t0, AcceptTs: t0 + ring, EndTs: end });
    return out;
  }
  const callee = callees[0];
  const at = t0 + ring;
  switch (outcome) {
    case 'normal_end':
    case 'interrupt': {
      const ending = outcome === 'normal_end' ? 'call_end' : 'call_interrupted';
      send(callee, 'callee', 'accept_call', at);
      send(caller, 'caller', 'call_accepted', at);
      send(caller, 'caller', ending, end, { StartCallTs: t0, AcceptTs: at, EndTs: end });
      send(callee, 'callee', ending, end, { StartCallTs: t0, AcceptTs: at, EndTs: end });
      status(outcome, { StartCallTs: t0, AcceptTs: at, EndTs: end });
      break;
    }
    case 'not_answer':
      send(callee, 'callee', 'not_answer_call', at);
      send(caller, 'caller', 'call_missed', at);
      status(outcome, { StartCallTs: t0, AcceptTs: 0, EndTs: at });
      break;
    case 'reject':
      send(callee, 'callee', 'reject_call', at);
      send(caller, 'caller', 'call_rejected', at);
      status(outcome, { StartCallTs: t0, AcceptTs: 0, EndTs: at });
      break;
    case 'cancel':
      send(caller, 'caller', 'cancel_call', at);
      send(callee, 'callee', 'call_canceled', at);
      status(outcome, { StartCallTs: t0, AcceptTs: 0, EndTs: at });
      break;
    case 'call_busy':
      send(caller, 'caller', 'call_busy', at);
      status(outcome, { StartCallTs: t0, AcceptTs: 0, EndTs: at });
      break;
  }
  return out;
}
