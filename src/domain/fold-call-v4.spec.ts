import fc from 'fast-check';
import { makeCallback, makeStatusCallback, SDKAPPID, T0, type CallbackBody } from '../../test/support/callbacks';
import { makeEndCall, makeMemberChanged, makeStartCall, v4CallBodies } from '../../test/support/callbacks-v4';
import { parseV1Callback } from '../ingest/trtc-v1.schema';
import { parseV4Callback } from '../ingest/trtc-v4.schema';
import { foldCall, type FoldEvent, type FoldedCall } from './fold-call';

/** The events the real parsers make of v4 bodies (docs/trtc-callbacks.md, section 5). */
const v4 = (...bodies: CallbackBody[]): FoldEvent[] => bodies.flatMap((b) => parseV4Callback(SDKAPPID, { optplatform: 'Android' }, b));
const v1 = (...bodies: CallbackBody[]): FoldEvent[] => bodies.map((b) => parseV1Callback(SDKAPPID, { optplatform: 'iOS' }, b));
const ms = (s: number) => (T0 + s) * 1000;
const changed = (at: number, ...changes: [string, string][]) => makeMemberChanged(changes, { EventTime: ms(at) });
const outcomes = (call: FoldedCall) => Object.fromEntries(call.participants.map((p) => [p.userId, p.outcome]));

/** Alice calls Bob, Carol and Dan: Bob answers, Carol rejects, Erin is invited and joins, everyone leaves. */
const group = (): CallbackBody[] => {
  const users = ['Alice', 'Bob', 'Carol', 'Dan'].map((u, i) => ({ User_Account: u, Status: i === 0 ? 'Calling' : 'Waiting' }));
  return [
    makeStartCall({ UserList: users, EventTime: ms(0) }, { CallMediaType: 'Video' }),
    changed(4, ['Bob', 'Answer']),
    changed(6, ['Carol', 'Reject']),
    changed(30, ['Dan', 'NotAnswer'], ['Erin', 'Invited']),
    changed(35, ['Erin', 'Join']),
    changed(60, ['Bob', 'Hangup']),
    changed(90, ['Erin', 'Hang Up']),
  ];
};
const groupRecord = () =>
  makeEndCall(
    { CallType: 'MultiCall', MediaType: 'Video', AcceptTime: T0 + 4, EndTime: T0 + 90, CalleeList_Account: ['Alice', 'Bob', 'Carol', 'Dan', 'Erin'] },
    { EventTime: ms(91) },
  );

describe('foldCall: v4 calls', () => {
  it.each<[string, FoldEvent[], { status: string; result: string | null; caller: string | null; outcomes: Record<string, string> }]>([
    ['a started call rings, the "Calling" user as its caller', v4(makeStartCall()), { status: 'RINGING', result: null, caller: 'Alice', outcomes: { Alice: 'INVITED', Bob: 'INVITED' } }],
    ['an answer makes it ongoing, the caller in it', v4(makeStartCall(), changed(5, ['Bob', 'Accept'])), { status: 'ONGOING', result: null, caller: 'Alice', outcomes: { Alice: 'ACCEPTED', Bob: 'ACCEPTED' } }],
    ['a one-to-one call answered', v4(...v4CallBodies({ callId: 'call-1', caller: 'Alice', callees: ['Bob'], outcome: 'answered' })), { status: 'ENDED', result: 'NORMAL_END', caller: 'Alice', outcomes: { Alice: 'ENDED', Bob: 'ENDED' } }],
    ['a one-to-one call rejected', v4(...v4CallBodies({ callId: 'call-1', caller: 'Alice', callees: ['Bob'], outcome: 'rejected' })), { status: 'ENDED', result: 'REJECT', caller: 'Alice', outcomes: { Alice: 'REJECTED', Bob: 'REJECTED' } }],
    ['a one-to-one call not answered', v4(...v4CallBodies({ callId: 'call-1', caller: 'Alice', callees: ['Bob'], outcome: 'missed' })), { status: 'ENDED', result: 'NOT_ANSWER', caller: 'Alice', outcomes: { Alice: 'NO_ANSWER', Bob: 'NO_ANSWER' } }],
    ['a one-to-one call cancelled', v4(...v4CallBodies({ callId: 'call-1', caller: 'Alice', callees: ['Bob'], outcome: 'canceled' })), { status: 'ENDED', result: 'CANCEL', caller: 'Alice', outcomes: { Alice: 'CANCELED', Bob: 'CANCELED' } }],
    ['a rejection ends a one-to-one call before its record', v4(makeStartCall(), changed(3, ['Bob', 'Reject'])), { status: 'ENDED', result: 'REJECT', caller: 'Alice', outcomes: { Alice: 'REJECTED', Bob: 'REJECTED' } }],
    ['a member going offline interrupts it', v4(makeStartCall(), changed(5, ['Bob', 'Accept']), changed(20, ['Bob', 'Offline'])), { status: 'ENDED', result: 'OFFLINE', caller: 'Alice', outcomes: { Alice: 'ENDED', Bob: 'INTERRUPTED' } }],
    ['a busy record alone', v4(makeEndCall({ CallResult: 'CallBusy', AcceptTime: 0 })), { status: 'ENDED', result: 'CALL_BUSY', caller: 'Alice', outcomes: { Alice: 'BUSY', Bob: 'BUSY' } }],
    ['a group call keeps going while its caller is in it', v4(...group()), { status: 'ONGOING', result: null, caller: 'Alice', outcomes: { Alice: 'ACCEPTED', Bob: 'ENDED', Carol: 'REJECTED', Dan: 'NO_ANSWER', Erin: 'ENDED' } }],
    ['a group call with joins and hang-ups, ended by its record', v4(...group(), groupRecord()), { status: 'ENDED', result: 'NORMAL_END', caller: 'Alice', outcomes: { Alice: 'ENDED', Bob: 'ENDED', Carol: 'REJECTED', Dan: 'NO_ANSWER', Erin: 'ENDED' } }],
    ["the record's caller over the start's guess", v4(makeStartCall(), makeEndCall({ Caller_Account: 'Bob' })), { status: 'ENDED', result: 'NORMAL_END', caller: 'Bob', outcomes: { Bob: 'ENDED', Alice: 'ENDED' } }],
  ])('%s', (_name, events, want) => {
    const call = foldCall(events);
    expect({ status: call.status, result: call.result, caller: call.callerId }).toEqual({ status: want.status, result: want.result, caller: want.caller });
    expect(outcomes(call)).toEqual(want.outcomes);
  });

  it("gives a call one caller: the record's Caller_Account over the start's guess", () => {
    const call = foldCall(v4(makeStartCall(), makeEndCall({ Caller_Account: 'Bob' })));
    expect(call.participants.map((p) => [p.userId, p.role])).toEqual([['Bob', 'CALLER'], ['Alice', 'CALLEE']]);
  });

  it("takes times from Tencent's record and gives the caller the call's answer time", () => {
    const call = foldCall(v4(...v4CallBodies({ callId: 'call-1', caller: 'Alice', callees: ['Bob'], outcome: 'answered' })));
    expect(call).toMatchObject({ callType: 'SINGLE', mediaType: 'AUDIO', startedAt: T0, acceptedAt: T0 + 5, endedAt: T0 + 65, ringSeconds: 5, talkSeconds: 60, lastEventAt: T0 + 66 });
    expect(call.participants).toEqual([
      { userId: 'Alice', role: 'CALLER', outcome: 'ENDED', platform: 'Android', invitedAt: T0, answeredAt: T0 + 5, leftAt: T0 + 65 },
      { userId: 'Bob', role: 'CALLEE', outcome: 'ENDED', platform: 'Android', invitedAt: T0, answeredAt: T0 + 5, leftAt: T0 + 65 },
    ]);
  });

  it('folds a group call: video, group, talk from the first answer to the last leaver', () => {
    const call = foldCall(v4(...group(), groupRecord()));
    expect(call).toMatchObject({ callType: 'GROUP', mediaType: 'VIDEO', acceptedAt: T0 + 4, endedAt: T0 + 90, talkSeconds: 86 });
    expect(call.participants.find((p) => p.userId === 'Erin')).toMatchObject({ role: 'CALLEE', invitedAt: T0 + 30, answeredAt: T0 + 35, leftAt: T0 + 90 });
  });

  it('dates users known only from the record from the start of the call', () => {
    const call = foldCall(v4(makeEndCall({ AcceptTime: 0, CallResult: 'NotAnswer', EndTime: T0 + 30 })));
    expect(call).toMatchObject({ startedAt: T0, acceptedAt: null, endedAt: T0 + 30, ringSeconds: 30, talkSeconds: 0 });
    expect(call.participants.map((p) => [p.userId, p.role, p.invitedAt, p.leftAt])).toEqual([['Alice', 'CALLER', T0, T0 + 30], ['Bob', 'CALLEE', T0, T0 + 30]]);
  });

  it('folds one call seen through both generations', () => {
    const events = [
      ...v1(makeCallback({ Event: 'start_call' }), makeCallback({ UserId: 'Bob', Role: 'callee', Event: 'receive_call', EventTime: T0 + 1 })),
      ...v4(changed(5, ['Bob', 'Accept']), changed(65, ['Bob', 'Hangup']), makeEndCall()),
      ...v1(makeStatusCallback({ EventTime: T0 + 66, StartCallTs: T0, AcceptTs: T0 + 5, EndTs: T0 + 65 })),
    ];
    const call = foldCall(events);
    expect(call).toMatchObject({ status: 'ENDED', result: 'NORMAL_END', callerId: 'Alice', callType: 'SINGLE', startedAt: T0, acceptedAt: T0 + 5, endedAt: T0 + 65, talkSeconds: 60 });
    expect(call.participants.map((p) => [p.userId, p.role, p.outcome, p.answeredAt])).toEqual([['Alice', 'CALLER', 'ENDED', T0 + 5], ['Bob', 'CALLEE', 'ENDED', T0 + 5]]);
  });

  it.each<[string, () => FoldEvent[]]>([
    ['a group call', () => v4(...group(), groupRecord())],
    ['a call through both generations', () => [...v1(makeCallback({ Event: 'start_call' }), makeStatusCallback({ EventTime: T0 + 66 })), ...v4(...v4CallBodies({ callId: 'call-1', caller: 'Alice', callees: ['Bob'], outcome: 'answered' }))]],
  ])('gives the same call for any order of the events of %s', (_name, make) => {
    const events = make();
    const expected = foldCall(events);
    fc.assert(
      fc.property(fc.shuffledSubarray(events, { minLength: events.length, maxLength: events.length }), (shuffled) => {
        expect(foldCall(shuffled)).toEqual(expected);
      }),
      { numRuns: 200 },
    );
  });
});

describe('foldCall: very large calls', () => {
  it('folds a call with 200,000 record events (more than a spread can pass as arguments)', () => {
    const record = v4(groupRecord())[0];
    const events: FoldEvent[] = Array.from({ length: 200_000 }, (_, i) => ({
      ...record,
      userId: `u${i % 500}`,
      startCallTs: T0 + 1 + (i % 7),
      endTs: T0 + 90 + (i % 11),
    }));
    const call = foldCall(events);
    expect(call.startedAt).toBe(T0 + 1);
    expect(call.endedAt).toBe(T0 + 100);
    expect(call.participants).toHaveLength(500);
  });
});
