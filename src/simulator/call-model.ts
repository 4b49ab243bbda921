import type { Prng } from './prng';

/** The results Tencent reports for a call (docs/trtc-callbacks.md, section 3), as calltrail stores them. */
export const SIM_RESULTS = ['NORMAL_END', 'NOT_ANSWER', 'REJECT', 'CANCEL', 'CALL_BUSY', 'INTERRUPT'] as const;
export type SimResult = (typeof SIM_RESULTS)[number];

/** How one-to-one calls end: mostly answered and ended normally, then missed, rejected, cancelled, busy, cut. */
export const SINGLE_RESULT_MIX: Readonly<Record<SimResult, number>> = { NORMAL_END: 62, NOT_ANSWER: 14, REJECT: 8, CANCEL: 8, CALL_BUSY: 4, INTERRUPT: 4 };
const PLATFORM_MIX = { iOS: 40, Android: 45, Web: 10, miniProgram: 5 } as const;
/** Share of group calls, and of video calls. */
const GROUP_SHARE = 0.15;
const VIDEO_SHARE = 0.35;
/** TUICallKit's invitation timeout: an unanswered call rings this long (seconds). */
export const RING_TIMEOUT = 30;

/**
 * What one user did, or Tencent's status callback (`status`), in words that map to both
 * generations (see `render.ts`). Caller-side echoes of a callee's action (`accepted`, `rejected`,
 * `missed`) are v1 events of their own.
 */
export type Action = 'start' | 'receive' | 'accept' | 'accepted' | 'reject' | 'rejected' | 'not_answer' | 'missed' | 'cancel' | 'canceled' | 'busy' | 'end' | 'interrupted' | 'status';

export interface Step {
  /** Seconds after the call started, in simulated (not compressed) time. */
  readonly at: number;
  readonly user: string;
  readonly role: 'caller' | 'callee';
  readonly action: Action;
}

/** One simulated call: who, how it ends, and every step in time order. */
export interface CallModel {
  readonly callType: 'single' | 'group';
  readonly media: 'audio' | 'video';
  readonly caller: string;
  readonly callees: readonly string[];
  readonly platforms: Readonly<Record<string, string>>;
  readonly result: SimResult;
  /** Seconds after the start when it was answered; null when nobody answered. */
  readonly acceptAt: number | null;
  /** Seconds after the start when it ended. */
  readonly endAt: number;
  readonly steps: readonly Step[];
}

/** Draws distinct users `user-0001` … `user-<users>`. */
function drawUsers(rng: Prng, users: number, n: number): string[] {
  const picked = new Set<string>();
  while (picked.size < Math.min(n, users)) picked.add(`user-${String(rng.int(1, users)).padStart(4, '0')}`);
  return [...picked];
}

const ringOf = (rng: Prng, result: SimResult): number =>
  result === 'NOT_ANSWER' ? RING_TIMEOUT : result === 'CALL_BUSY' ? rng.between(0.3, 1) : rng.logNormal(6, 0.6, 1, RING_TIMEOUT - 2);
/** Talk time: a median near a minute and a half, a long tail, cut to what the run leaves. */
const talkOf = (rng: Prng, maxSeconds: number): number => Math.max(1, Math.min(rng.logNormal(75, 1.1, 3, 1800), maxSeconds));

function singleSteps(rng: Prng, caller: string, callee: string, result: SimResult, maxSeconds: number): { steps: Step[]; acceptAt: number | null; endAt: number } {
  const ring = ringOf(rng, result);
  const steps: Step[] = [{ at: 0, user: caller, role: 'caller', action: 'start' }];
  const both = (at: number, callerAction: Action, calleeAction: Action) =>
    steps.push({ at, user: callee, role: 'callee', action: calleeAction }, { at, user: caller, role: 'caller', action: callerAction });
  if (result !== 'CALL_BUSY') steps.push({ at: Math.min(ring, rng.between(0.2, 1)), user: callee, role: 'callee', action: 'receive' });
  let acceptAt: number | null = null;
  let endAt = ring;
  if (result === 'NORMAL_END' || result === 'INTERRUPT') {
    acceptAt = ring;
    both(ring, 'accepted', 'accept');
    endAt = ring + talkOf(rng, maxSeconds - ring);
    const action = result === 'INTERRUPT' ? 'interrupted' : 'end';
    both(endAt, action, action);
  } else if (result === 'NOT_ANSWER') both(ring, 'missed', 'not_answer');
  else if (result === 'REJECT') both(ring, 'rejected', 'reject');
  else if (result === 'CANCEL') both(ring, 'cancel', 'canceled');
  else steps.push({ at: ring, user: caller, role: 'caller', action: 'busy' });
  return { steps, acceptAt, endAt };
}

/** A group call: each callee answers, rejects or lets it ring out; Tencent reports it `normal_end` (section 3). */
function groupSteps(rng: Prng, caller: string, callees: readonly string[], maxSeconds: number): { steps: Step[]; acceptAt: number | null; endAt: number } {
  const steps: Step[] = [{ at: 0, user: caller, role: 'caller', action: 'start' }];
  const decisions = callees.map((user) => {
    steps.push({ at: rng.between(0.2, 1.5), user, role: 'callee', action: 'receive' });
    const action = rng.weighted({ accept: 70, reject: 15, not_answer: 15 });
    return { user, action, at: action === 'not_answer' ? RING_TIMEOUT : rng.logNormal(action === 'accept' ? 6 : 5, 0.6, 1.5, RING_TIMEOUT - 2) };
  });
  const answers = decisions.filter((d) => d.action === 'accept');
  if (answers.length === 0) {
    for (const d of decisions) steps.push({ at: d.at, user: d.user, role: 'callee', action: d.action });
    steps.push({ at: RING_TIMEOUT, user: caller, role: 'caller', action: 'missed' });
    return { steps, acceptAt: null, endAt: RING_TIMEOUT };
  }
  const acceptAt = Math.min(...answers.map((a) => a.at));
  const lastIn = Math.max(...answers.map((a) => a.at));
  const endAt = lastIn + talkOf(rng, maxSeconds - lastIn);
  steps.push({ at: acceptAt, user: caller, role: 'caller', action: 'accepted' });
  // Whoever is still ringing when the call ends sees it cancelled.
  for (const d of decisions) steps.push(d.at <= endAt ? { at: d.at, user: d.user, role: 'callee', action: d.action } : { at: endAt, user: d.user, role: 'callee', action: 'canceled' });
  for (const { user } of answers) steps.push({ at: endAt, user, role: 'callee', action: 'end' });
  steps.push({ at: endAt, user: caller, role: 'caller', action: 'end' });
  return { steps, acceptAt, endAt };
}

/**
 * Draws one call among `users` users that ends within `maxSeconds` (at least RING_TIMEOUT + 3):
 * its type, media, result, people and steps, Tencent's status callback last.
 */
export function drawCall(rng: Prng, users: number, maxSeconds: number): CallModel {
  const callType = rng.chance(GROUP_SHARE) ? 'group' : 'single';
  const media = rng.chance(VIDEO_SHARE) ? 'video' : 'audio';
  const [caller, ...callees] = drawUsers(rng, users, callType === 'group' ? rng.int(3, 6) : 2);
  const platforms = Object.fromEntries([caller, ...callees].map((u) => [u, rng.weighted(PLATFORM_MIX)]));
  const result: SimResult = callType === 'group' ? 'NORMAL_END' : rng.weighted(SINGLE_RESULT_MIX);
  const room = maxSeconds - 2;
  const { steps, acceptAt, endAt } = callType === 'group' ? groupSteps(rng, caller, callees, room) : singleSteps(rng, caller, callees[0], result, room);
  steps.push({ at: endAt + rng.between(0.2, 1.5), user: caller, role: 'caller', action: 'status' });
  steps.sort((a, b) => a.at - b.at);
  return { callType, media, caller, callees, platforms, result, acceptAt, endAt, steps };
}
