import { commandOf, makeCallback, makeStatusCallback, SDKAPPID, T0, type CallbackBody } from '../../test/support/callbacks';
import { parseJsonBody, parseV1Callback, type CallbackQuery } from './trtc-v1.schema';
import { expectRefusal } from '../../test/support/refusal';

const parse = (body: CallbackBody, query: CallbackQuery = { command: commandOf(body) }) => parseV1Callback(SDKAPPID, query, body);
const parseText = (text: string) => parseJsonBody(Buffer.from(text, 'utf8'));
/** A JSON text nested `levels` deep (the outer object is level 1). */
const nested = (levels: number) => `{"CallId":"c","x":${'['.repeat(levels - 1)}1${']'.repeat(levels - 1)}}`;
const MS = 1000;


describe('parseV1Callback: event callbacks', () => {
  it.each<[string, 'caller' | 'callee', string, string]>([
    ['caller_start_call', 'caller', 'start_call', 'START_CALL'],
    ['caller_call_accepted', 'caller', 'call_accepted', 'CALL_ACCEPTED'],
    ['caller_call_missed', 'caller', 'call_missed', 'CALL_MISSED'],
    ['caller_call_rejected', 'caller', 'call_rejected', 'CALL_REJECTED'],
    ['caller_call_busy', 'caller', 'call_busy', 'CALL_BUSY'],
    ['caller_cancel_call', 'caller', 'cancel_call', 'CANCEL_CALL'],
    ['caller_call_failed', 'caller', 'call_failed', 'CALL_FAILED'],
    ['caller_call_end', 'caller', 'call_end', 'CALL_END'],
    ['caller_call_interrupted', 'caller', 'call_interrupted', 'CALL_INTERRUPTED'],
    ['callee_receive_call', 'callee', 'receive_call', 'RECEIVE_CALL'],
    ['callee_accept_call', 'callee', 'accept_call', 'ACCEPT_CALL'],
    ['callee_not_answer_call', 'callee', 'not_answer_call', 'NOT_ANSWER_CALL'],
    ['callee_reject_call', 'callee', 'reject_call', 'REJECT_CALL'],
    ['callee_ignore_call', 'callee', 'ignore_call', 'IGNORE_CALL'],
    ['callee_call_canceled', 'callee', 'call_canceled', 'CALL_CANCELED'],
    ['callee_call_end', 'callee', 'call_end', 'CALL_END'],
    ['callee_call_interrupted', 'callee', 'call_interrupted', 'CALL_INTERRUPTED'],
    ['invite_user', 'caller', 'invite_user', 'INVITE_USER'],
    ['join_in_group_call', 'callee', 'join_in_group_call', 'JOIN_IN_GROUP_CALL'],
  ])('normalises the %s callback', (command, role, event, type) => {
    const body = makeCallback({ Role: role, Event: event });
    expect(parse(body, { command, clientip: '10.0.0.7', optplatform: 'Android' })).toEqual({
      sdkAppId: SDKAPPID, callId: 'call-1', roomId: "Alice's Room", userId: 'Alice', role: role.toUpperCase(),
      rawEvent: event, type, callType: 'SINGLE', mediaType: 'AUDIO', totalNum: 2, callResult: null, rawCallResult: null,
      eventTime: T0, startCallTs: null, acceptTs: null, endTs: null, command, clientIp: '10.0.0.7', platform: 'Android',
      body, dedupeKey: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
  });

  it.each<[string, CallbackBody, Record<string, unknown>]>([
    ['an upper-case Event', { Event: 'START_CALL' }, { type: 'START_CALL', rawEvent: 'START_CALL' }],
    ['a mixed-case Event', { Event: 'Call_Accepted' }, { type: 'CALL_ACCEPTED', rawEvent: 'Call_Accepted' }],
    ['an upper-case MediaType', { MediaType: 'VIDEO' }, { mediaType: 'VIDEO' }],
    ['a mixed-case MediaType', { MediaType: 'Audio' }, { mediaType: 'AUDIO' }],
    ['an upper-case CallType', { CallType: 'GROUP' }, { callType: 'GROUP' }],
    ['a mixed-case Role', { Role: 'CallEE' }, { role: 'CALLEE' }],
    ['a mixed-case CallResult on an end event', { Event: 'call_end', CallResult: 'Normal_End' }, { type: 'CALL_END', callResult: 'NORMAL_END', rawCallResult: 'Normal_End' }],
    ['an unknown MediaType, as unknown', { MediaType: 'screen' }, { mediaType: null }],
    ['an unknown CallType, as unknown', { CallType: 'broadcast' }, { callType: null }],
    ['an unknown Role, as unknown', { Role: 'observer' }, { role: null }],
    ['an unknown Event, kept as sent', { Event: 'Future_Event' }, { type: 'OTHER', rawEvent: 'Future_Event' }],
    ['an Event named call_result, not as a status callback', { Event: 'call_result' }, { type: 'OTHER', rawEvent: 'call_result' }],
    ['an Event named other', { Event: 'other' }, { type: 'OTHER', rawEvent: 'other' }],
    ['a numeric UserId and RoomId, as text', { UserId: 10086, RoomId: 4242 }, { userId: '10086', roomId: '4242' }],
    ['TotalNum as a numeric string', { TotalNum: '3' }, { totalNum: 3 }],
    ['an empty TotalNum and RoomId, as unknown', { TotalNum: '', RoomId: '' }, { totalNum: null, roomId: null }],
    ['a missing TotalNum, MediaType and CallType, as unknown', { TotalNum: undefined, MediaType: undefined, CallType: undefined }, { totalNum: null, mediaType: null, callType: null }],
    ['ids of exactly 256 characters', { UserId: 'u'.repeat(256), CallId: 'c'.repeat(256) }, { userId: 'u'.repeat(256), callId: 'c'.repeat(256) }],
  ])('reads %s', (_name, over, want) => {
    expect(parse(makeCallback(over))).toMatchObject(want);
  });

  it.each<[string, string | undefined, string | undefined, string | null]>([
    ['a caller_ command when the body has no Role', undefined, 'caller_start_call', 'CALLER'],
    ['an upper-case CALLEE_ command when the body has no Role', undefined, 'CALLEE_accept_call', 'CALLEE'],
    ['nowhere for a command without a role prefix and no Role', undefined, 'invite_user', null],
    ['nowhere for a status command and no Role', undefined, 'call_end', null],
    ['nowhere without a command or a Role', undefined, undefined, null],
    ['the body rather than the command prefix', 'callee', 'caller_start_call', 'CALLEE'],
  ])('takes the role from %s', (_name, role, command, want) => {
    expect(parse(makeCallback({ Role: role }), { command }).role).toBe(want);
  });
});

describe('parseV1Callback: status callbacks', () => {
  const results: [string, string][] = [
    ['normal_end', 'NORMAL_END'], ['not_answer', 'NOT_ANSWER'], ['reject', 'REJECT'], ['call_busy', 'CALL_BUSY'],
    ['cancel', 'CANCEL'], ['interrupt', 'INTERRUPT'], ['offline', 'OFFLINE'], ['failed', 'FAILED'],
    ['NORMAL_END', 'NORMAL_END'], ['Not_Answer', 'NOT_ANSWER'], ['exploded', 'UNKNOWN'],
  ];
  it.each(results.flatMap(([word, result]) => [[word, word, result], [word, 'call_end', result]]))(
    'reads a status callback with CallResult %s and command %s as a %s result',
    (word, command, result) => {
      const body = makeStatusCallback({ CallResult: word, Role: undefined });
      expect(parse(body, { command })).toMatchObject({ type: 'CALL_RESULT', rawEvent: '', callResult: result, rawCallResult: word, role: null, command });
    },
  );

  it('reads a status callback whose Event is present but empty', () => {
    expect(parse(makeCallback({ Event: '', CallResult: 'reject' }))).toMatchObject({ type: 'CALL_RESULT', rawEvent: '', callResult: 'REJECT' });
  });
});

describe('parseV1Callback: times', () => {
  it.each<[string, unknown, number]>([
    ['seconds', T0, T0],
    ['milliseconds', T0 * MS + 123, T0],
    ['a numeric string of seconds', String(T0), T0],
    ['a numeric string of milliseconds', String(T0 * MS + 999), T0],
    ['the first second of 2001', 978_307_200, 978_307_200],
    ['the first second of 2060', 2_840_140_800, 2_840_140_800],
  ])('reads an EventTime in %s as Unix seconds', (_name, eventTime, want) => {
    expect(parse(makeCallback({ EventTime: eventTime })).eventTime).toBe(want);
  });

  it('reads StartCallTs, AcceptTs and EndTs in seconds or milliseconds as Unix seconds', () => {
    const body = makeCallback({ Event: 'call_end', StartCallTs: 1_704_856_873, AcceptTs: 1_704_856_876 * MS, EndTs: '1704856885' });
    expect(parse(body)).toMatchObject({ startCallTs: 1_704_856_873, acceptTs: 1_704_856_876, endTs: 1_704_856_885 });
  });

  it.each<[string, unknown]>([['0', 0], ['"0"', '0'], ['an empty string', ''], ['null', null], ['missing', undefined]])(
    'reads StartCallTs, AcceptTs and EndTs given as %s as unknown',
    (_name, value) => {
      expect(parse(makeCallback({ StartCallTs: value, AcceptTs: value, EndTs: value }))).toMatchObject({ startCallTs: null, acceptTs: null, endTs: null });
    },
  );
});

describe('parseV1Callback: refusals', () => {
  it.each<[string, CallbackBody, string, string[]]>([
    ['a missing CallId', { CallId: undefined }, 'CallId', ['non-empty string', 'got nothing']],
    ['a missing UserId', { UserId: undefined }, 'UserId', ['non-empty string', 'got nothing']],
    ['a missing EventTime', { EventTime: undefined }, 'EventTime', ['Unix seconds', 'got nothing']],
    ['an empty UserId', { UserId: '' }, 'UserId', ['got ""']],
    ['a UserId of only spaces', { UserId: '   ' }, 'UserId', ['non-empty']],
    ['a null UserId', { UserId: null }, 'UserId', ['got null']],
    ['a boolean CallId', { CallId: true }, 'CallId', ['got true']],
    ['an object CallId', { CallId: { id: 1 } }, 'CallId', ['got {"id":1}']],
    ['a UserId of 257 characters', { UserId: 'u'.repeat(257) }, 'UserId', ['at most 256 characters', 'got "uuu']],
    ['a CallId of 257 characters', { CallId: 'c'.repeat(257) }, 'CallId', ['at most 256 characters']],
    ['a RoomId of 1025 characters', { RoomId: 'r'.repeat(1025) }, 'RoomId', ['at most 1024 characters']],
    ['a word for EventTime', { EventTime: 'yesterday' }, 'EventTime', ['Unix seconds', 'got "yesterday"']],
    ['a fractional EventTime', { EventTime: T0 + 0.5 }, 'EventTime', [`got ${T0 + 0.5}`]],
    ['an EventTime of 0', { EventTime: 0 }, 'EventTime', ['from 2001 to 2060', 'got 0']],
    ['a negative EventTime', { EventTime: -T0 }, 'EventTime', ['from 2001 to 2060']],
    ['an EventTime before 2001', { EventTime: 978_307_199 }, 'EventTime', ['got 978307199']],
    ['an EventTime after 2060', { EventTime: 2_840_140_801 }, 'EventTime', ['got 2840140801']],
    ['an EventTime too large for seconds, too small for milliseconds', { EventTime: 99_999_999_999 }, 'EventTime', ['from 2001 to 2060']],
    ['an EventTime in milliseconds after 2060', { EventTime: 2_840_140_801 * MS }, 'EventTime', ['from 2001 to 2060']],
    ['a boolean EventTime', { EventTime: true }, 'EventTime', ['got true']],
    ['a word for StartCallTs', { StartCallTs: 'soon' }, 'StartCallTs', ['or 0 for unknown', 'got "soon"']],
    ['a negative AcceptTs', { AcceptTs: -5 }, 'AcceptTs', ['or 0 for unknown', 'got -5']],
    ['an EndTs after 2060', { EndTs: 2_840_140_801 }, 'EndTs', ['from 2001 to 2060']],
    ['a negative TotalNum', { TotalNum: -1 }, 'TotalNum', ['integer from 0 to 100000', 'got -1']],
    ['a TotalNum over 100000', { TotalNum: 100_001 }, 'TotalNum', ['got 100001']],
    ['a fractional TotalNum', { TotalNum: 2.5 }, 'TotalNum', ['got 2.5']],
    ['a word for TotalNum', { TotalNum: 'two' }, 'TotalNum', ['got "two"']],
    ['a MediaType of 65 characters', { MediaType: 'a'.repeat(65) }, 'MediaType', ['short string']],
    ['an object Event', { Event: { name: 'start_call' } }, 'Event', ['short string']],
    ['an array Role', { Role: ['caller'] }, 'Role', ['got ["caller"]']],
    ['a boolean CallResult', { CallResult: true }, 'CallResult', ['got true']],
    ['neither Event nor CallResult', { Event: undefined, CallResult: undefined }, 'Event', ['an event name, or a CallResult', 'got nothing']],
    ['an empty Event and an empty CallResult', { Event: '', CallResult: '  ' }, 'Event', ['got ""']],
  ])('refuses a body with %s, naming the field', (_name, over, field, fragments) => {
    expectRefusal(() => parse(makeCallback(over)), 'INVALID_FIELD', field, fragments);
  });

  it.each(['command', 'clientip', 'optplatform'])('refuses a %s query parameter over 256 characters, naming it', (name) => {
    expectRefusal(() => parse(makeCallback(), { [name]: 'q'.repeat(257) }), 'INVALID_FIELD', name, ['at most 256 characters']);
  });

  it.each<[string, CallbackBody, CallbackQuery]>([
    ['a CallbackCommand in the body', makeCallback({ CallbackCommand: 'TRTC.CallEvent' }), {}],
    ['a CallbackCommand in the query', makeCallback(), { callbackcommand: 'TRTC.CallEvent' }],
  ])('refuses a v4 callback announced by %s as unsupported', (_name, body, query) => {
    expectRefusal(() => parse(body, query), 'UNSUPPORTED_CALLBACK', 'CallbackCommand', ['v1 TRTC Call callback', 'got "TRTC.CallEvent"']);
  });
});

describe('parseV1Callback: dedupe key', () => {
  const reversed = (body: CallbackBody) => Object.fromEntries(Object.entries(body).reverse());

  it('gives the same key to the same body with its keys in a different order, at every level', () => {
    const body = makeCallback({ Extra: { b: 1, a: [{ y: 2, x: 1 }] } });
    const shuffled = { ...reversed(body), Extra: { a: [{ x: 1, y: 2 }], b: 1 } };
    expect(parse(shuffled).dedupeKey).toBe(parse(body).dedupeKey);
  });

  it('gives the same key to a redelivery that differs only in its query', () => {
    const body = makeCallback();
    expect(parse(body, { command: 'caller_start_call', clientip: '10.0.0.1' }).dedupeKey).toBe(parse(body, { clientip: '10.0.0.2' }).dedupeKey);
  });

  it.each<[string, CallbackBody]>([
    ['a later EventTime', { EventTime: T0 + 1 }],
    ['another user', { UserId: 'Bob' }],
    ['another event', { Event: 'call_end' }],
    ['an EventTime sent as a string', { EventTime: String(T0) }],
    ['an extra field', { Extra: 1 }],
  ])('gives a different key to a body with %s', (_name, over) => {
    expect(parse(makeCallback(over)).dedupeKey).not.toBe(parse(makeCallback()).dedupeKey);
  });
});

describe('parseJsonBody', () => {
  it.each<[string, string, string[]]>([
    ['invalid JSON', '{"UserId":', ['a JSON object', 'invalid JSON']],
    ['an empty body', '', ['invalid JSON']],
    ['form data', 'UserId=Alice&CallId=1', ['invalid JSON']],
    ['an array', '[{"UserId":"Alice"}]', ['a JSON object', 'got [{"UserId":"Alice"}]']],
    ['null', 'null', ['got null']],
    ['a string', '"Alice"', ['got "Alice"']],
    ['a number', '42', ['got 42']],
    ['an escaped NUL in a value', '{"UserId":"Al\\u0000ice"}', ['without NUL']],
    ['an escaped NUL in a key', '{"User\\u0000Id":"Alice"}', ['without NUL']],
    ['a lone high surrogate', '{"UserId":"\\ud800"}', ['valid Unicode', 'lone surrogate']],
    ['a lone low surrogate', '{"UserId":"x\\udc00y"}', ['lone surrogate']],
    ['a reversed surrogate pair', '{"UserId":"\\ude00\\ud83d"}', ['lone surrogate']],
    ['a lone surrogate in a nested key', '{"a":[{"\\udbff":1}]}', ['lone surrogate']],
    ['nesting one level too deep', nested(33), ['nested at most 32 levels deep', 'got deeper']],
    ['excessive nesting', '['.repeat(100_000), ['nested at most 32 levels deep']],
  ])('refuses %s, naming the body', (_name, text, fragments) => {
    expectRefusal(() => parseText(text), 'INVALID_JSON', 'body', fragments);
  });

  it.each<[string, string, Record<string, unknown>]>([
    ['the documented example', JSON.stringify(makeCallback()), makeCallback()],
    ['nesting exactly 32 levels deep', nested(32), JSON.parse(nested(32))],
    ['brackets and escaped quotes inside strings', `{"RoomId":"\\"${'['.repeat(40)}"}`, { RoomId: `"${'['.repeat(40)}` }],
    ['a valid surrogate pair', '{"UserId":"\\ud83d\\ude00"}', { UserId: '😀' }],
    ['an escaped backslash before u0000, which is not a NUL', '{"UserId":"a\\\\u0000"}', { UserId: 'a\\u0000' }],
    ['an escaped backslash before ud800, which is not a surrogate', '{"UserId":"a\\\\ud800"}', { UserId: 'a\\ud800' }],
  ])('accepts %s', (_name, text, want) => {
    expect(parseText(text)).toEqual(want);
  });

  it('gives bodies with equal content but different bytes the same dedupe key', () => {
    const [a, b] = ['{"UserId":"A","CallId":"c","Event":"x","EventTime":1704695566}', '{ "EventTime": 1704695566, "Event": "x",\n "CallId": "c", "UserId": "A" }'].map(parseText);
    expect(parse(b).dedupeKey).toBe(parse(a).dedupeKey);
  });
});
