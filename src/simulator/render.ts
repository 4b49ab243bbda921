import type { Action, CallModel, SimResult, Step } from './call-model';

/** Where and when one call happened, for rendering its callbacks. */
export interface CallContext {
  readonly sdkAppId: string;
  readonly callId: string;
  readonly roomId: string;
  readonly clientIp: string;
  /** Unix ms when the call started. */
  readonly startMs: number;
  /** Simulated seconds per real second: durations are divided by it. */
  readonly speed: number;
}

/** One callback as Tencent would POST it, `atMs` after the call started (real, compressed time). */
export interface RenderedCallback {
  readonly atMs: number;
  readonly query: Readonly<Record<string, string>>;
  readonly body: Readonly<Record<string, unknown>>;
}

const V1_EVENT: Record<Exclude<Action, 'status'>, string> = {
  start: 'start_call',
  receive: 'receive_call',
  accept: 'accept_call',
  accepted: 'call_accepted',
  reject: 'reject_call',
  rejected: 'call_rejected',
  not_answer: 'not_answer_call',
  missed: 'call_missed',
  cancel: 'cancel_call',
  canceled: 'call_canceled',
  busy: 'call_busy',
  end: 'call_end',
  interrupted: 'call_interrupted',
};
const V1_RESULT: Record<SimResult, string> = { NORMAL_END: 'normal_end', NOT_ANSWER: 'not_answer', REJECT: 'reject', CANCEL: 'cancel', CALL_BUSY: 'call_busy', INTERRUPT: 'interrupt' };
const V4_RESULT: Record<SimResult, string> = { NORMAL_END: 'NormalEnd', NOT_ANSWER: 'NotAnswer', REJECT: 'Reject', CANCEL: 'Cancel', CALL_BUSY: 'CallBusy', INTERRUPT: 'Interrupt' };
/** The v4 `ActionType` of a callee's action; the other actions have no v4 callback of their own (section 5). */
const V4_ACTION: Partial<Record<Action, string>> = { accept: 'Accept', reject: 'Reject', not_answer: 'NotAnswer', canceled: 'Cancel_Invite', end: 'Hangup' };

const offsetMs = (at: number, ctx: CallContext) => Math.round((at * 1000) / ctx.speed);
const seconds = (at: number, ctx: CallContext) => Math.floor((ctx.startMs + offsetMs(at, ctx)) / 1000);

/** The call's record times in Unix seconds (AcceptTs 0: never answered), as Tencent sends them on end events. */
function recordTimes(call: CallModel, ctx: CallContext) {
  return { start: seconds(0, ctx), accept: call.acceptAt === null ? 0 : seconds(call.acceptAt, ctx), end: seconds(call.endAt, ctx) };
}

function v1Callback(call: CallModel, ctx: CallContext, step: Step): RenderedCallback {
  const times = recordTimes(call, ctx);
  const body: Record<string, unknown> = {
    UserId: step.user,
    RoomId: ctx.roomId,
    TotalNum: call.callees.length + 1,
    MediaType: call.media,
    CallType: call.callType,
    CallId: ctx.callId,
    Role: step.role,
    Event: step.action === 'status' ? undefined : V1_EVENT[step.action],
    CallResult: step.action === 'status' ? V1_RESULT[call.result] : '',
    EventTime: seconds(step.at, ctx),
  };
  if (step.action === 'status') delete body.Event;
  if (['status', 'end', 'interrupted'].includes(step.action)) Object.assign(body, { StartCallTs: times.start, AcceptTs: times.accept, EndTs: times.end });
  const command = step.action === 'status' ? V1_RESULT[call.result] : `${step.role}_${V1_EVENT[step.action]}`;
  const query = { sdkappid: ctx.sdkAppId, command, contenttype: 'json', clientip: ctx.clientIp, optplatform: call.platforms[step.user] };
  return { atMs: offsetMs(step.at, ctx), query, body };
}

/** Who is in the call (`Calling`) or still being rung (`Waiting`) at `at`. */
function userList(call: CallModel, at: number) {
  const inCall = new Set(call.steps.filter((s) => s.action === 'accept' && s.at <= at).map((s) => s.user));
  return [call.caller, ...call.callees].map((u) => ({ User_Account: u, Status: u === call.caller || inCall.has(u) ? 'Calling' : 'Waiting' }));
}

function v4Body(call: CallModel, ctx: CallContext, step: Step): Record<string, unknown> | null {
  const EventTime = ctx.startMs + offsetMs(step.at, ctx);
  if (step.action === 'start') {
    const CallInfo = { CallId: ctx.callId, CallMediaType: call.media === 'video' ? 'Video' : 'Audio', ChatGroupId: '', RoomId: ctx.roomId, RoomIdType: 2 };
    return { CallbackCommand: 'Call.CallbackAfterStartCall', CallInfo, UserList: userList(call, 0), EventTime };
  }
  if (step.action === 'status') {
    const t = recordTimes(call, ctx);
    const CallRecord = {
      CallId: ctx.callId,
      Caller_Account: call.caller,
      MediaType: call.media === 'video' ? 'Video' : 'Audio',
      CallType: call.callType === 'group' ? 'MultiCall' : 'SingleCall',
      StartTime: t.start,
      AcceptTime: t.accept,
      EndTime: t.end,
      CallResult: V4_RESULT[call.result],
      CalleeList_Account: [call.caller, ...call.callees],
      RoomId: ctx.roomId,
      RoomIdType: 2,
    };
    return { CallbackCommand: 'Call.CallbackAfterEndCall', CallRecord, EventTime };
  }
  const action = V4_ACTION[step.action];
  if (action === undefined) return null;
  return { CallbackCommand: 'Call.CallbackAfterMemberChanged', CallId: ctx.callId, UserList: userList(call, step.at), ChangedUserList: [{ User_Account: step.user, ActionType: action }], EventTime };
}

function v4Callback(call: CallModel, ctx: CallContext, step: Step): RenderedCallback | null {
  const body = v4Body(call, ctx, step);
  if (body === null) return null;
  const query = { SdkAppid: ctx.sdkAppId, CallbackCommand: String(body.CallbackCommand), contenttype: 'json', ClientIP: ctx.clientIp, OptPlatform: call.platforms[step.user] };
  return { atMs: offsetMs(step.at, ctx), query, body };
}

/** Every callback of one call in the generation given, in step order (docs/trtc-callbacks.md, sections 2, 3 and 5). */
export function renderCall(call: CallModel, ctx: CallContext, generation: 'v1' | 'v4'): RenderedCallback[] {
  if (generation === 'v1') return call.steps.map((s) => v1Callback(call, ctx, s));
  return call.steps.map((s) => v4Callback(call, ctx, s)).filter((c): c is RenderedCallback => c !== null);
}
