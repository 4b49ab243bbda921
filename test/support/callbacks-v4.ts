import { postRaw, SDKAPPID, T0, type CallbackBody, type PostOptions } from './callbacks';

/** v4 callback bodies (docs/trtc-callbacks.md, section 5), shaped like Tencent's examples, and a poster. */

export const START_CALL = 'Call.CallbackAfterStartCall';
export const END_CALL = 'Call.CallbackAfterEndCall';
export const MEMBER_CHANGED = 'Call.CallbackAfterMemberChanged';
/** `T0` in milliseconds, as v4's `EventTime` is sent. */
export const T0_MS = T0 * 1000;

/** `Call.CallbackAfterStartCall`: Alice ("Calling") calls Bob ("Waiting"), audio. */
export function makeStartCall(over: CallbackBody = {}, callInfo: CallbackBody = {}): CallbackBody {
  return {
    CallbackCommand: START_CALL,
    CallInfo: { CallId: 'call-1', CallMediaType: 'Audio', ChatGroupId: '', RoomId: 'room-1', RoomIdType: 2, ...callInfo },
    UserList: [
      { User_Account: 'Alice', Status: 'Calling' },
      { User_Account: 'Bob', Status: 'Waiting' },
    ],
    EventTime: T0_MS,
    ...over,
  };
}

/** `Call.CallbackAfterMemberChanged`: each `[user, ActionType]` of `changes`, in a call of Alice and Bob. */
export function makeMemberChanged(changes: [user: unknown, action: unknown][] = [['Bob', 'Accept']], over: CallbackBody = {}): CallbackBody {
  return {
    CallbackCommand: MEMBER_CHANGED,
    CallId: 'call-1',
    UserList: [
      { User_Account: 'Alice', Status: 'Calling' },
      { User_Account: 'Bob', Status: 'Calling' },
    ],
    ChangedUserList: changes.map(([user, action]) => ({ User_Account: user, ActionType: action })),
    EventTime: T0_MS + 5000,
    ...over,
  };
}

/** `Call.CallbackAfterEndCall`: Alice's one-to-one audio call to Bob, answered after 5 s, 60 s of talk. */
export function makeEndCall(record: CallbackBody = {}, over: CallbackBody = {}): CallbackBody {
  return {
    CallbackCommand: END_CALL,
    CallRecord: {
      CallId: 'call-1',
      Caller_Account: 'Alice',
      MediaType: 'Audio',
      CallType: 'SingleCall',
      StartTime: T0,
      AcceptTime: T0 + 5,
      EndTime: T0 + 65,
      CallResult: 'NormalEnd',
      CalleeList_Account: ['Alice', 'Bob'],
      RoomId: 'room-1',
      RoomIdType: 2,
      ...record,
    },
    EventTime: (T0 + 66) * 1000,
    ...over,
  };
}

export interface V4Call {
  readonly callId: string;
  readonly caller: string;
  readonly callees: readonly string[];
  readonly outcome: 'answered' | 'rejected' | 'missed' | 'canceled';
  /** Unix seconds */
  readonly start?: number;
  readonly media?: 'Audio' | 'Video';
}

/**
 * Every v4 callback of one call, in the order Tencent sends them: start, member changes, record.
 * Answered: every callee accepts at +5 s and hangs up at +65 s (the caller stays to the end, so no
 * change is sent for them); otherwise every callee rejects, misses (+30 s) or is cancelled (+3 s).
 */
export function v4CallBodies(c: V4Call): CallbackBody[] {
  const start = c.start ?? T0;
  const ms = (s: number) => (start + s) * 1000;
  const everyone = [c.caller, ...c.callees].map((u, i) => ({ User_Account: u, Status: i === 0 ? 'Calling' : 'Waiting' }));
  const changed = (action: string, at: number) =>
    makeMemberChanged(
      c.callees.map((u) => [u, action]),
      { CallId: c.callId, UserList: everyone, EventTime: ms(at) },
    );
  const end = { answered: 65, rejected: 3, missed: 30, canceled: 3 }[c.outcome];
  const steps =
    c.outcome === 'answered'
      ? [changed('Accept', 5), changed('Hang Up', 65)]
      : [changed({ rejected: 'Reject', missed: 'NotAnswer', canceled: 'Canncel_Invite' }[c.outcome], end)];
  const record = {
    CallId: c.callId,
    Caller_Account: c.caller,
    MediaType: c.media ?? 'Audio',
    CallType: c.callees.length > 1 ? 'MultiCall' : 'SingleCall',
    StartTime: start,
    AcceptTime: c.outcome === 'answered' ? start + 5 : 0,
    EndTime: start + end,
    CallResult: { answered: 'NormalEnd', rejected: 'Reject', missed: 'NotAnswer', canceled: 'Cancel' }[c.outcome],
    CalleeList_Account: [c.caller, ...c.callees],
  };
  return [
    makeStartCall({ UserList: everyone, EventTime: ms(0) }, { CallId: c.callId, CallMediaType: c.media ?? 'Audio' }),
    ...steps,
    makeEndCall(record, { EventTime: ms(end + 1) }),
  ];
}

/** Posts a v4 callback the way Tencent does (`SdkAppid`, `CallbackCommand`, … in the URL); returns status and parsed reply. */
export async function postV4Callback(baseUrl: string, body: CallbackBody, opts: PostOptions = {}) {
  const query = new URLSearchParams({
    SdkAppid: opts.sdkAppId ?? SDKAPPID,
    CallbackCommand: String(body.CallbackCommand ?? ''),
    contenttype: 'json',
    ClientIP: '10.0.0.8',
    OptPlatform: 'Android',
    ...opts.query,
  });
  const { status, body: reply } = await postRaw(baseUrl, query, body, opts);
  return { status, body: reply };
}
