import { SDKAPPID, T0, type CallbackBody } from '../../test/support/callbacks';
import { END_CALL, makeEndCall, makeMemberChanged, makeStartCall, MEMBER_CHANGED, START_CALL, T0_MS } from '../../test/support/callbacks-v4';
import type { AppErrorCode } from '../domain/app-error';
import { parseJsonBody, type CallbackQuery } from './trtc-v1.schema';
import { isV4Callback, parseV4Callback, V4_MAX_USERS } from './trtc-v4.schema';
import { expectRefusal } from '../../test/support/refusal';

const QUERY: CallbackQuery = { sdkappid: SDKAPPID, contenttype: 'json', clientip: '10.0.0.8', optplatform: 'Android' };
const parse = (body: CallbackBody, query: CallbackQuery = { ...QUERY, callbackcommand: String(body.CallbackCommand) }) => parseV4Callback(SDKAPPID, query, body);
/** Parses the body from its JSON text first, as the service does. */
const parseText = (json: string) => parse(parseJsonBody(Buffer.from(json, 'utf8')));
const one = (body: CallbackBody) => {
  const events = parse(body);
  expect(events).toHaveLength(1);
  return events[0];
};
const KEY = /^[0-9a-f]{64}:\d+$/;


/** The body of every event but the first: a pointer to the first, which keeps the whole body. */
const pointer = (command: string) => ({ CallbackCommand: command, bodyIn: expect.stringMatching(/^[0-9a-f]{64}:0$/) });

describe('parseV4Callback: each command', () => {
  it('turns Call.CallbackAfterStartCall into one CALL_STARTED per user, the one "Calling" user as the caller', () => {
    const body = makeStartCall();
    const shared = {
      sdkAppId: SDKAPPID, callId: 'call-1', roomId: 'room-1', type: 'CALL_STARTED', callType: null, mediaType: 'AUDIO', totalNum: 2,
      callResult: null, rawCallResult: null, eventTime: T0, startCallTs: null, acceptTs: null, endTs: null,
      command: START_CALL, clientIp: '10.0.0.8', platform: 'Android', body,
    };
    expect(parse(body)).toEqual([
      { ...shared, userId: 'Alice', role: 'CALLER', rawEvent: 'Calling', dedupeKey: expect.stringMatching(/:0$/) },
      { ...shared, userId: 'Bob', role: 'CALLEE', rawEvent: 'Waiting', body: pointer(START_CALL), dedupeKey: expect.stringMatching(/:1$/) },
    ]);
  });

  it('turns Call.CallbackAfterEndCall into one CALL_RECORD for the caller and one per other callee', () => {
    const body = makeEndCall();
    const shared = {
      sdkAppId: SDKAPPID, callId: 'call-1', roomId: 'room-1', rawEvent: '', type: 'CALL_RECORD', callType: 'SINGLE', mediaType: 'AUDIO',
      totalNum: 2, callResult: 'NORMAL_END', rawCallResult: 'NormalEnd', eventTime: T0 + 66, startCallTs: T0, acceptTs: T0 + 5,
      endTs: T0 + 65, command: END_CALL, clientIp: '10.0.0.8', platform: 'Android', body,
    };
    expect(parse(body)).toEqual([
      { ...shared, userId: 'Alice', role: 'CALLER', dedupeKey: expect.stringMatching(/:0$/) },
      { ...shared, userId: 'Bob', role: 'CALLEE', body: pointer(END_CALL), dedupeKey: expect.stringMatching(/:1$/) },
    ]);
  });

  it('turns Call.CallbackAfterMemberChanged into one event per changed user, the ActionType as sent', () => {
    const body = makeMemberChanged([['Bob', 'Accept'], ['Carol', 'Reject']]);
    const shared = {
      sdkAppId: SDKAPPID, callId: 'call-1', roomId: null, role: null, callType: 'GROUP', mediaType: null, totalNum: 2,
      callResult: null, rawCallResult: null, eventTime: T0 + 5, startCallTs: null, acceptTs: null, endTs: null,
      command: MEMBER_CHANGED, clientIp: '10.0.0.8', platform: 'Android', body,
    };
    expect(parse(body)).toEqual([
      { ...shared, userId: 'Bob', rawEvent: 'Accept', type: 'MEMBER_ACCEPTED', dedupeKey: expect.stringMatching(/:0$/) },
      { ...shared, userId: 'Carol', rawEvent: 'Reject', type: 'MEMBER_REJECTED', body: pointer(MEMBER_CHANGED), dedupeKey: expect.stringMatching(/:1$/) },
    ]);
  });

  it.each<[string, CallbackQuery, CallbackBody]>([
    ['the body only', { sdkappid: SDKAPPID }, makeEndCall()],
    ['the URL only', { sdkappid: SDKAPPID, callbackcommand: END_CALL }, { ...makeEndCall(), CallbackCommand: undefined }],
    ['both, in another case', { sdkappid: SDKAPPID, callbackcommand: 'call.callbackafterendcall' }, makeEndCall({}, { CallbackCommand: 'CALL.CALLBACKAFTERENDCALL' })],
  ])('reads the command from %s', (_name, query, body) => {
    expect(parseV4Callback(SDKAPPID, query, body).map((e) => e.type)).toEqual(['CALL_RECORD', 'CALL_RECORD']);
  });
});

describe('parseV4Callback: values', () => {
  it.each<[string, string, string]>([
    ['Accept', 'Accept', 'MEMBER_ACCEPTED'],
    ['Answer', 'Answer', 'MEMBER_ACCEPTED'],
    ['Hang Up', 'Hang Up', 'MEMBER_HUNG_UP'],
    ['Hangup', 'Hangup', 'MEMBER_HUNG_UP'],
    ['HANG UP in capitals', 'HANG UP', 'MEMBER_HUNG_UP'],
    ['hangup with spaces around', ' hangup ', 'MEMBER_HUNG_UP'],
    ['Invited', 'Invited', 'MEMBER_INVITED'],
    ['Invite', 'Invite', 'MEMBER_INVITED'],
    ['Canncel_Invite', 'Canncel_Invite', 'MEMBER_CANCELED'],
    ['Cancel_Invite', 'Cancel_Invite', 'MEMBER_CANCELED'],
    ['Cancel Invite', 'Cancel Invite', 'MEMBER_CANCELED'],
    ['Reject', 'Reject', 'MEMBER_REJECTED'],
    ['NotAnswer', 'NotAnswer', 'MEMBER_NOT_ANSWERED'],
    ['Not_Answer', 'Not_Answer', 'MEMBER_NOT_ANSWERED'],
    ['Join', 'Join', 'MEMBER_JOINED'],
    ['Offline', 'Offline', 'MEMBER_OFFLINE'],
    ['an unknown action, as OTHER', 'Transfer', 'OTHER'],
    ['an action named constructor, as OTHER', 'constructor', 'OTHER'],
  ])('reads the ActionType %s', (_name, action, type) => {
    expect(one(makeMemberChanged([['Bob', action]]))).toMatchObject({ type, rawEvent: action.trim() });
  });

  it.each<[string, string, string]>([
    ['NormalEnd', 'NormalEnd', 'NORMAL_END'],
    ['NotAnswer', 'NotAnswer', 'NOT_ANSWER'],
    ['Reject', 'Reject', 'REJECT'],
    ['CallBusy', 'CallBusy', 'CALL_BUSY'],
    ['Cancel', 'Cancel', 'CANCEL'],
    ['Interrupt', 'Interrupt', 'INTERRUPT'],
    ['Offline', 'Offline', 'OFFLINE'],
    ['a v1 word', 'normal_end', 'NORMAL_END'],
    ['an unknown word, as UNKNOWN', 'Teleported', 'UNKNOWN'],
  ])('reads the CallResult %s', (_name, word, result) => {
    expect(parse(makeEndCall({ CallResult: word }))[0]).toMatchObject({ callResult: result, rawCallResult: word });
  });

  it.each<[string, CallbackBody, Record<string, unknown>]>([
    ['SingleCall and Audio', { CallType: 'SingleCall', MediaType: 'Audio' }, { callType: 'SINGLE', mediaType: 'AUDIO' }],
    ['MultiCall and Video', { CallType: 'MultiCall', MediaType: 'Video' }, { callType: 'GROUP', mediaType: 'VIDEO' }],
    ['v1 words', { CallType: 'group', MediaType: 'video' }, { callType: 'GROUP', mediaType: 'VIDEO' }],
    ['unknown words, as unknown', { CallType: 'Broadcast', MediaType: 'Screen' }, { callType: null, mediaType: null }],
    ['an AcceptTime of 0, as never answered', { AcceptTime: 0 }, { acceptTs: null, startCallTs: T0, endTs: T0 + 65 }],
    ['an AcceptTime of "0", as never answered', { AcceptTime: '0' }, { acceptTs: null }],
    ['record times as numeric strings', { StartTime: String(T0), AcceptTime: String(T0 + 5), EndTime: String(T0 + 65) }, { startCallTs: T0, acceptTs: T0 + 5, endTs: T0 + 65 }],
    ['record times in milliseconds', { StartTime: T0_MS, EndTime: T0_MS + 65_000 }, { startCallTs: T0, endTs: T0 + 65 }],
    ['a numeric CallId and RoomId, as text', { CallId: 4242, RoomId: 1234 }, { callId: '4242', roomId: '1234' }],
    ['an empty RoomId, as unknown', { RoomId: '' }, { roomId: null }],
  ])('reads a record with %s', (_name, record, want) => {
    expect(parse(makeEndCall(record))[0]).toMatchObject(want);
  });

  it.each<[string, CallbackBody, number]>([
    ['milliseconds, scaled to whole seconds', { EventTime: T0_MS + 999 }, T0],
    ['milliseconds as a numeric string', { EventTime: String(T0_MS) }, T0],
    ['seconds', { EventTime: T0 }, T0],
  ])('reads an EventTime in %s', (_name, over, seconds) => {
    expect(parse(makeStartCall(over))[0].eventTime).toBe(seconds);
  });

  it('keeps numeric User_Accounts as text, exactly, even beyond 2^53', () => {
    const json = `{"CallbackCommand":"${START_CALL}","CallInfo":{"CallId":"c","CallMediaType":"Audio","RoomId":"","RoomIdType":1},
      "UserList":[{"User_Account":144115212830834855,"Status":"Calling"},{"User_Account":10086,"Status":"Waiting"}],"EventTime":1740464128807}`;
    expect(parseText(json).map((e) => [e.userId, e.role, e.eventTime])).toEqual([
      ['144115212830834855', 'CALLER', 1740464128],
      ['10086', 'CALLEE', 1740464128],
    ]);
  });

  it.each<[string, CallbackBody[], (string | null)[]]>([
    ['no user "Calling"', [{ User_Account: 'Alice', Status: 'Waiting' }, { User_Account: 'Bob', Status: 'Waiting' }], [null, null]],
    ['two users "Calling"', [{ User_Account: 'Alice', Status: 'Calling' }, { User_Account: 'Bob', Status: 'calling' }], [null, null]],
    ['one user "calling" in lower case', [{ User_Account: 'Alice', Status: 'Waiting' }, { User_Account: 'Bob', Status: 'calling' }], ['CALLEE', 'CALLER']],
  ])('gives no caller at the start unless exactly one user is "Calling": %s', (_name, userList, roles) => {
    expect(parse(makeStartCall({ UserList: userList })).map((e) => e.role)).toEqual(roles);
  });

  it('names a call of more than two users a group call, and leaves two undecided', () => {
    const three = [{ User_Account: 'A' }, { User_Account: 'B' }, { User_Account: 'C' }];
    expect(parse(makeStartCall({ UserList: three }))[0]).toMatchObject({ callType: 'GROUP', totalNum: 3, role: null, rawEvent: '' });
    expect(one(makeMemberChanged([['Bob', 'Join']]))).toMatchObject({ callType: null, totalNum: 2 });
  });

  it('lists the caller once when CalleeList_Account includes them, caller first', () => {
    const events = parse(makeEndCall({ Caller_Account: 'Bob', CalleeList_Account: ['Alice', 'Bob', 'Carol', 'Alice'] }));
    expect(events.map((e) => [e.userId, e.role])).toEqual([['Bob', 'CALLER'], ['Alice', 'CALLEE'], ['Carol', 'CALLEE']]);
    expect(parse(makeEndCall({ CalleeList_Account: undefined })).map((e) => e.userId)).toEqual(['Alice']);
  });
});

describe('parseV4Callback: dedupe keys', () => {
  it("keys each event by the body's SHA-256 and its entry, the same for a redelivery in any key order", () => {
    const body = makeMemberChanged([['Bob', 'Accept'], ['Carol', 'Join']]);
    const keys = parse(body).map((e) => e.dedupeKey);
    expect(keys).toEqual([expect.stringMatching(KEY), expect.stringMatching(KEY)]);
    expect(keys[0].split(':')[0]).toBe(keys[1].split(':')[0]);
    const reordered = Object.fromEntries(Object.entries(body).reverse());
    expect(parse(reordered).map((e) => e.dedupeKey)).toEqual(keys);
    expect(parse({ ...body, EventTime: T0_MS + 6000 }).map((e) => e.dedupeKey)).not.toContain(keys[0]);
  });
});

describe('parseV4Callback: refusals', () => {
  const tooMany = Array.from({ length: V4_MAX_USERS + 1 }, (_, i) => ({ User_Account: `u${i}`, Status: 'Waiting' }));
  it.each<[string, CallbackBody, AppErrorCode, string, string[]]>([
    ['an unknown command', { CallbackCommand: 'Call.CallbackBeforeStartCall' }, 'UNSUPPORTED_CALLBACK', 'CallbackCommand', ['Call.CallbackAfterEndCall', 'got "Call.CallbackBeforeStartCall"']],
    ['a Chat command', { CallbackCommand: 'Group.CallbackAfterNewMemberJoin' }, 'UNSUPPORTED_CALLBACK', 'CallbackCommand', ['got "Group.CallbackAfterNewMemberJoin"']],
    ['a numeric command', { CallbackCommand: 7 }, 'INVALID_FIELD', 'CallbackCommand', ['a string', 'got 7']],
    ['a StartCall without CallInfo', makeStartCall({ CallInfo: undefined }), 'INVALID_FIELD', 'CallInfo', ['"CallId"', 'got nothing']],
    ['a StartCall without CallId', makeStartCall({}, { CallId: '' }), 'INVALID_FIELD', 'CallInfo.CallId', ['non-empty', 'got ""']],
    ['a StartCall with no users', makeStartCall({ UserList: [] }), 'INVALID_FIELD', 'UserList', ['at least one', 'got []']],
    ['a StartCall with too many users', makeStartCall({ UserList: tooMany }), 'INVALID_FIELD', 'UserList', [`at most ${V4_MAX_USERS}`]],
    ['a user without an account', makeStartCall({ UserList: [{ User_Account: 'A' }, { Status: 'Waiting' }] }), 'INVALID_FIELD', 'UserList[1].User_Account', ['got nothing']],
    ['a user account that is an object', makeStartCall({ UserList: [{ User_Account: { id: 1 } }] }), 'INVALID_FIELD', 'UserList[0].User_Account', ['got {"id":1}']],
    ['a missing EventTime', makeStartCall({ EventTime: undefined }), 'INVALID_FIELD', 'EventTime', ['Unix milliseconds', 'got nothing']],
    ['an EventTime in 2200', makeStartCall({ EventTime: 7258118400000 }), 'INVALID_FIELD', 'EventTime', ['got 7258118400000']],
    ['a MemberChanged without changes', makeMemberChanged([]), 'INVALID_FIELD', 'ChangedUserList', ['1 to', 'got []']],
    ['a change without ActionType', makeMemberChanged([['Bob', undefined]]), 'INVALID_FIELD', 'ChangedUserList[0].ActionType', ['"Hang Up"', 'got nothing']],
    ['a blank ActionType', makeMemberChanged([['Bob', 'Accept'], ['Carol', '  ']]), 'INVALID_FIELD', 'ChangedUserList[1].ActionType', ['got "  "']],
    ['a MemberChanged without CallId', makeMemberChanged(undefined, { CallId: undefined }), 'INVALID_FIELD', 'CallId', ['got nothing']],
    ['an EndCall without CallRecord', makeEndCall({}, { CallRecord: 'none' }), 'INVALID_FIELD', 'CallRecord', ['call record', 'got "none"']],
    ['a record without Caller_Account', makeEndCall({ Caller_Account: undefined }), 'INVALID_FIELD', 'CallRecord.Caller_Account', ['got nothing']],
    ['a record StartTime out of range', makeEndCall({ StartTime: 99999999999 }), 'INVALID_FIELD', 'CallRecord.StartTime', ['or 0 for unknown', 'got 99999999999']],
    ['a record CallId too long to index', makeEndCall({ CallId: 'c'.repeat(300) }), 'INVALID_FIELD', 'CallRecord.CallId', ['at most 256']],
    ['a blank callee', makeEndCall({ CalleeList_Account: ['Bob', ''] }), 'INVALID_FIELD', 'CallRecord.CalleeList_Account[1]', ['got ""']],
  ])('refuses %s, naming the field', (_name, body, code, field, fragments) => {
    expectRefusal(() => parse(body), code, field, fragments);
  });

  it('refuses a body whose command differs from the URL', () => {
    expectRefusal(() => parse(makeEndCall(), { callbackcommand: START_CALL }), 'INVALID_FIELD', 'CallbackCommand', [START_CALL, `got "${END_CALL}"`]);
  });

  it('refuses a query parameter too long to store', () => {
    expectRefusal(() => parse(makeEndCall(), { callbackcommand: END_CALL, optplatform: 'x'.repeat(300) }), 'INVALID_FIELD', 'optplatform', ['at most 256']);
  });
});

describe('isV4Callback', () => {
  it.each<[string, CallbackQuery, CallbackBody, boolean]>([
    ['a CallbackCommand in the body', {}, { CallbackCommand: END_CALL }, true],
    ['a CallbackCommand in the URL', { callbackcommand: END_CALL }, {}, true],
    ['a v1 callback', { command: 'caller_start_call' }, { UserId: 'Alice', Event: 'start_call' }, false],
  ])('tells %s', (_name, query, body, want) => {
    expect(isV4Callback(query, body)).toBe(want);
  });
});
