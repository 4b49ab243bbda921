import fc from 'fast-check';
import { foldCall, type FoldEvent } from './fold-call';
import { toCallEventType, type CallEventType, type CallResult } from './vocabulary';

const T0 = 1_704_695_566;
let seq = 0;

/** An event with valid defaults: a one-to-one audio call between alice (caller) and bob. */
function ev(event: string | null, over: Partial<FoldEvent> = {}): FoldEvent {
  const type: CallEventType = toCallEventType(event);
  return {
    userId: 'alice',
    role: 'CALLER',
    type,
    rawEvent: event ?? '',
    callType: 'SINGLE',
    mediaType: 'AUDIO',
    roomId: 'room-1',
    callResult: null,
    eventTime: T0,
    startCallTs: null,
    acceptTs: null,
    endTs: null,
    platform: 'iOS',
    dedupeKey: `k${seq++}`,
    ...over,
  };
}
const bob = (event: string, over: Partial<FoldEvent> = {}) => ev(event, { userId: 'bob', role: 'CALLEE', platform: 'Android', ...over });
const status = (result: CallResult, over: Partial<FoldEvent> = {}) => ev(null, { callResult: result, ...over });

const answeredCall = (): FoldEvent[] => [
  ev('start_call'),
  bob('receive_call', { eventTime: T0 + 1 }),
  bob('accept_call', { eventTime: T0 + 5 }),
  ev('call_accepted', { eventTime: T0 + 5 }),
  ev('call_end', { eventTime: T0 + 65 }),
  bob('call_end', { eventTime: T0 + 65 }),
];

describe('foldCall', () => {
  it.each<[string, FoldEvent[], { status: string; result: string | null; caller: string | null; outcomes: Record<string, string> }]>([
    ['a started call rings', [ev('start_call')], { status: 'RINGING', result: null, caller: 'alice', outcomes: { alice: 'INVITED' } }],
    ['a received call rings', [ev('start_call'), bob('receive_call')], { status: 'RINGING', result: null, caller: 'alice', outcomes: { alice: 'INVITED', bob: 'INVITED' } }],
    ['an answered call is ongoing', answeredCall().slice(0, 4), { status: 'ONGOING', result: null, caller: 'alice', outcomes: { alice: 'ACCEPTED', bob: 'ACCEPTED' } }],
    ['both ends end it normally', answeredCall(), { status: 'ENDED', result: 'NORMAL_END', caller: 'alice', outcomes: { alice: 'ENDED', bob: 'ENDED' } }],
    ['one end ends a one-to-one call', answeredCall().slice(0, 5), { status: 'ENDED', result: 'NORMAL_END', caller: 'alice', outcomes: { alice: 'ENDED', bob: 'ENDED' } }],
    ['a rejection', [ev('start_call'), bob('reject_call', { eventTime: T0 + 3 }), ev('call_rejected', { eventTime: T0 + 3 })], { status: 'ENDED', result: 'REJECT', caller: 'alice', outcomes: { alice: 'REJECTED', bob: 'REJECTED' } }],
    ['a miss', [ev('start_call'), bob('not_answer_call', { eventTime: T0 + 30 }), ev('call_missed', { eventTime: T0 + 30 })], { status: 'ENDED', result: 'NOT_ANSWER', caller: 'alice', outcomes: { alice: 'NO_ANSWER', bob: 'NO_ANSWER' } }],
    ['a busy line', [ev('start_call'), ev('call_busy', { eventTime: T0 + 1 })], { status: 'ENDED', result: 'CALL_BUSY', caller: 'alice', outcomes: { alice: 'BUSY' } }],
    ['a cancel', [ev('start_call'), ev('cancel_call', { eventTime: T0 + 2 }), bob('call_canceled', { eventTime: T0 + 2 })], { status: 'ENDED', result: 'CANCEL', caller: 'alice', outcomes: { alice: 'CANCELED', bob: 'CANCELED' } }],
    ['a failure', [ev('start_call'), ev('call_failed', { eventTime: T0 + 1 })], { status: 'ENDED', result: 'FAILED', caller: 'alice', outcomes: { alice: 'FAILED' } }],
    ['an interruption', [...answeredCall().slice(0, 4), bob('call_interrupted', { eventTime: T0 + 9 })], { status: 'ENDED', result: 'INTERRUPT', caller: 'alice', outcomes: { alice: 'INTERRUPTED', bob: 'INTERRUPTED' } }],
    ['an ignore keeps ringing', [ev('start_call'), bob('ignore_call', { eventTime: T0 + 1 })], { status: 'RINGING', result: null, caller: 'alice', outcomes: { alice: 'INVITED', bob: 'IGNORED' } }],
    ['a status callback wins over inference', [...answeredCall(), status('INTERRUPT', { eventTime: T0 + 66 })], { status: 'ENDED', result: 'INTERRUPT', caller: 'alice', outcomes: { alice: 'ENDED', bob: 'ENDED' } }],
    ['a status callback alone ends a ringing call', [ev('start_call'), bob('receive_call'), status('NOT_ANSWER', { eventTime: T0 + 30 })], { status: 'ENDED', result: 'NOT_ANSWER', caller: 'alice', outcomes: { alice: 'NO_ANSWER', bob: 'NO_ANSWER' } }],
    ['an unknown result word is UNKNOWN', [ev('start_call'), status('UNKNOWN')], { status: 'ENDED', result: 'UNKNOWN', caller: 'alice', outcomes: { alice: 'NO_ANSWER' } }],
    ['an unknown event changes nothing', [ev('start_call'), bob('future_event')], { status: 'RINGING', result: null, caller: 'alice', outcomes: { alice: 'INVITED', bob: 'INVITED' } }],
    ['the caller is found by role without start_call', [bob('receive_call'), ev('call_accepted', { eventTime: T0 + 2 })], { status: 'ONGOING', result: null, caller: 'alice', outcomes: { alice: 'ACCEPTED', bob: 'INVITED' } }],
  ])('%s', (_name, events, want) => {
    const call = foldCall(events);
    expect(call.status).toBe(want.status);
    expect(call.result).toBe(want.result);
    expect(call.callerId).toBe(want.caller);
    expect(Object.fromEntries(call.participants.map((p) => [p.userId, p.outcome]))).toEqual(want.outcomes);
  });

  it('derives times, ring and talk seconds from events', () => {
    const call = foldCall(answeredCall());
    expect(call).toMatchObject({ startedAt: T0, acceptedAt: T0 + 5, endedAt: T0 + 65, ringSeconds: 5, talkSeconds: 60, lastEventAt: T0 + 65 });
    expect(call.participants[0]).toMatchObject({ userId: 'alice', role: 'CALLER', invitedAt: T0, answeredAt: T0 + 5, leftAt: T0 + 65, platform: 'iOS' });
    expect(call.participants[1]).toMatchObject({ userId: 'bob', role: 'CALLEE', invitedAt: T0 + 1, answeredAt: T0 + 5, leftAt: T0 + 65, platform: 'Android' });
  });

  it("prefers Tencent's record answer and end times on end and status events, and keeps start_call's start", () => {
    const call = foldCall([...answeredCall(), status('NORMAL_END', { eventTime: T0 + 70, startCallTs: T0 - 1, acceptTs: T0 + 4, endTs: T0 + 64 })]);
    expect(call).toMatchObject({ startedAt: T0, acceptedAt: T0 + 4, endedAt: T0 + 64, ringSeconds: 4, talkSeconds: 60 });
  });

  it("takes the start from Tencent's record when start_call never arrived", () => {
    const call = foldCall([bob('receive_call', { eventTime: T0 + 1 }), status('NOT_ANSWER', { eventTime: T0 + 31, startCallTs: T0, endTs: T0 + 30 })]);
    expect(call).toMatchObject({ startedAt: T0, endedAt: T0 + 30, ringSeconds: 30 });
  });

  it('ignores record timestamps on events that are not end events', () => {
    const call = foldCall([ev('start_call', { startCallTs: T0 - 100, acceptTs: T0 + 3, endTs: T0 + 9 })]);
    expect(call).toMatchObject({ status: 'RINGING', startedAt: T0, acceptedAt: null, endedAt: null, talkSeconds: null, ringSeconds: null });
  });

  it('gives an unanswered ended call zero talk seconds and rings until the end', () => {
    const call = foldCall([ev('start_call'), ev('call_missed', { eventTime: T0 + 30 })]);
    expect(call).toMatchObject({ talkSeconds: 0, ringSeconds: 30, endedAt: T0 + 30 });
  });

  it('keeps a group call going until every participant has left', () => {
    const g = { callType: 'GROUP' as const };
    const events = [
      ev('start_call', g),
      bob('receive_call', g),
      ev('invite_user', { ...g, userId: 'carol', role: 'CALLEE', eventTime: T0 + 10 }),
      bob('accept_call', { ...g, eventTime: T0 + 3 }),
      ev('join_in_group_call', { ...g, userId: 'carol', role: 'CALLEE', eventTime: T0 + 12 }),
      ev('call_end', { ...g, eventTime: T0 + 40 }),
    ];
    const running = foldCall(events);
    expect(running.status).toBe('ONGOING');
    expect(Object.fromEntries(running.participants.map((p) => [p.userId, p.outcome]))).toEqual({ alice: 'ENDED', bob: 'ACCEPTED', carol: 'JOINED' });
    const done = foldCall([...events, bob('call_end', { ...g, eventTime: T0 + 50 }), ev('call_end', { ...g, userId: 'carol', role: 'CALLEE', eventTime: T0 + 55 })]);
    expect(done).toMatchObject({ status: 'ENDED', result: 'NORMAL_END', endedAt: T0 + 55 });
    expect(done.participants.map((p) => p.userId)).toEqual(['alice', 'bob', 'carol']);
  });

  it('does not let a late invitation undo an answer', () => {
    const call = foldCall([ev('start_call'), bob('accept_call', { eventTime: T0 + 2 }), bob('invite_user', { eventTime: T0 + 3 })]);
    expect(call.participants.find((p) => p.userId === 'bob')?.outcome).toBe('ACCEPTED');
  });

  it('orders events of the same second by lifecycle, whatever the arrival order', () => {
    const sameSecond = [ev('start_call'), bob('receive_call'), bob('accept_call'), ev('call_accepted'), bob('call_end'), ev('call_end')];
    const call = foldCall([...sameSecond].reverse());
    expect(call).toMatchObject({ status: 'ENDED', result: 'NORMAL_END', talkSeconds: 0, ringSeconds: 0 });
    expect(call.participants.map((p) => p.outcome)).toEqual(['ENDED', 'ENDED']);
  });

  it('gives the same call for any order of the same events', () => {
    const events = [...answeredCall(), status('NORMAL_END', { eventTime: T0 + 65 }), bob('call_interrupted', { eventTime: T0 + 65 })];
    const expected = foldCall(events);
    fc.assert(
      fc.property(fc.shuffledSubarray(events, { minLength: events.length, maxLength: events.length }), (shuffled) => {
        expect(foldCall(shuffled)).toEqual(expected);
      }),
      { numRuns: 200 },
    );
  });

  it('refuses an empty event list', () => {
    expect(() => foldCall([])).toThrow('expected at least one event');
  });
});
