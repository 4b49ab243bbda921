import type { FakeApp } from './fake-records-api';

/** Records as Tencent's records API sends them (docs/trtc-callbacks.md, section 7), and the apps that own them. */

export const V4_APP: FakeApp = { sdkAppId: '1400000001', secretKey: 'v4-secret-key-0123456789abcdef', identifier: 'administrator', generation: 'v4' };
export const V1_APP: FakeApp = { sdkAppId: '1400000002', secretKey: 'v1-secret-key-0123456789abcdef', identifier: 'administrator', generation: 'v1' };

/** `TRTC_APPS` for the apps, at `requestsPerSecond`. */
export const trtcApps = (apps: readonly FakeApp[], requestsPerSecond = 20) =>
  JSON.stringify(Object.fromEntries(apps.map((a) => [a.sdkAppId, { secretKey: a.secretKey, identifier: a.identifier, generation: a.generation, requestsPerSecond }])));

export interface RecordSpec {
  readonly callId: string;
  readonly caller?: string;
  readonly callees?: readonly string[];
  /** Unix seconds */
  readonly start: number;
  readonly outcome?: 'answered' | 'rejected' | 'missed' | 'canceled';
  readonly media?: 'audio' | 'video';
}

const RESULTS = {
  answered: ['NormalEnd', 'normal_end', 65],
  rejected: ['Reject', 'reject', 3],
  missed: ['NotAnswer', 'not_answer', 30],
  canceled: ['Cancel', 'cancel', 3],
} as const;

/** A v4 record, shaped like page 68931's example: answered after 5 s, unless `outcome` says otherwise. */
export function v4Record(s: RecordSpec): Record<string, unknown> {
  const [result, , end] = RESULTS[s.outcome ?? 'answered'];
  const caller = s.caller ?? 'Alice';
  const callees = s.callees ?? ['Bob'];
  return {
    CallId: s.callId,
    Caller_Account: caller,
    MediaType: s.media === 'video' ? 'Video' : 'Audio',
    CallType: callees.length > 1 ? 'MultiCall' : 'SingleCall',
    StartTime: s.start,
    EndTime: s.start + end,
    AcceptTime: (s.outcome ?? 'answered') === 'answered' ? s.start + 5 : 0,
    CallResult: result,
    CalleeList_Account: [caller, ...callees],
    RoomId: `room-${s.callId}`,
    RoomIdType: 2,
  };
}

/** A v1 record, shaped like page 60136's example (lowercase values). */
export function v1Record(s: RecordSpec): Record<string, unknown> {
  const [, result, end] = RESULTS[s.outcome ?? 'answered'];
  const callees = s.callees ?? ['Bob'];
  return {
    callId: s.callId,
    sdkAppId: Number(V1_APP.sdkAppId),
    mediaType: s.media ?? 'audio',
    roomId: `room-${s.callId}`,
    startCallTs: s.start,
    acceptTs: (s.outcome ?? 'answered') === 'answered' ? s.start + 5 : 0,
    endTs: s.start + end,
    caller: s.caller ?? 'Alice',
    totalUserNumber: 0,
    callType: callees.length > 1 ? 'group' : 'single',
    callResult: result,
    callees: [s.caller ?? 'Alice', ...callees],
  };
}

/** `n` calls started over the 7 days before `now`, an hour kept free at both ends; callers and callees repeat. */
export function spreadCalls(n: number, now: number, prefix = 'rec'): RecordSpec[] {
  const span = 7 * 24 * 3600 - 2 * 3600;
  return Array.from({ length: n }, (_, i) => ({
    callId: `${prefix}-${i}`,
    caller: `u${i % 97}`,
    callees: [`v${i % 89}`],
    start: now - 7 * 24 * 3600 + 3600 + Math.floor((i * span) / n),
    outcome: (['answered', 'rejected', 'missed', 'canceled'] as const)[i % 4],
    media: i % 3 === 0 ? 'video' : 'audio',
  }));
}
