import { makeCallback, makeStatusCallback, type CallbackBody } from './callbacks';

export interface CallSpec {
  readonly callId: string;
  readonly caller: string;
  readonly callees: readonly string[];
  readonly media?: 'audio' | 'video';
  readonly type?: 'single' | 'group';
  /** Unix seconds. */
  readonly start: number;
  readonly outcome: 'answered' | 'missed' | 'rejected' | 'ongoing';
  readonly ring?: number;
  readonly talk?: number;
}

/** The callbacks Tencent sends for a call of the given shape, status callback included when it ended. */
export function callEvents(spec: CallSpec): CallbackBody[] {
  const ring = spec.ring ?? 5;
  const talk = spec.talk ?? 60;
  const common = { CallId: spec.callId, MediaType: spec.media ?? 'audio', CallType: spec.type ?? 'single', RoomId: `room-${spec.callId}`, TotalNum: spec.callees.length + 1 };
  const caller = (Event: string, EventTime: number) => makeCallback({ ...common, UserId: spec.caller, Role: 'caller', Event, EventTime });
  const callee = (UserId: string, Event: string, EventTime: number) => makeCallback({ ...common, UserId, Role: 'callee', Event, EventTime });
  const s = spec.start;
  const out = [caller('start_call', s), ...spec.callees.map((u) => callee(u, 'receive_call', s))];
  const status = (CallResult: string, end: number, accept = 0) =>
    makeStatusCallback({ ...common, UserId: spec.caller, Role: 'caller', CallResult, EventTime: end + 1, StartCallTs: s, AcceptTs: accept, EndTs: end });
  switch (spec.outcome) {
    case 'answered':
    case 'ongoing':
      out.push(...spec.callees.map((u) => callee(u, 'accept_call', s + ring)), caller('call_accepted', s + ring));
      if (spec.outcome === 'answered') {
        const end = s + ring + talk;
        out.push(caller('call_end', end), ...spec.callees.map((u) => callee(u, 'call_end', end)), status('normal_end', end, s + ring));
      }
      break;
    case 'missed':
      out.push(...spec.callees.map((u) => callee(u, 'not_answer_call', s + 30)), caller('call_missed', s + 30), status('not_answer', s + 30));
      break;
    case 'rejected':
      out.push(...spec.callees.map((u) => callee(u, 'reject_call', s + ring)), caller('call_rejected', s + ring), status('reject', s + ring));
      break;
  }
  return out;
}
