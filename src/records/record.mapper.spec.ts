import { V1_APP, v1Record, V4_APP, v4Record } from '../../test/support/records';
import { parseV4Callback } from '../ingest/trtc-v4.schema';
import { recordToEvents } from './record.mapper';

const T = 1_718_000_000;
const V4_PATH = 'v4/call_record_http_srv/get_record_by_filter';
const V1_PATH = 'v1/records/get_records_by_filter';
/** The fields that say what happened, without where it came from. */
const facts = (e: object) => {
  const { command: _c, body: _b, dedupeKey: _d, sdkAppId: _s, ...rest } = e as Record<string, unknown>;
  return rest;
};

describe('recordToEvents', () => {
  it('turns a v4 record into one CALL_RECORD for the caller and one per other callee, like the end-of-call callback', () => {
    const record = v4Record({ callId: 'c1', caller: 'Alice', callees: ['Bob', 'Carol'], start: T, media: 'video' });
    const events = recordToEvents(V4_APP.sdkAppId, 'v4', record);
    const shared = {
      sdkAppId: V4_APP.sdkAppId, callId: 'c1', roomId: 'room-c1', rawEvent: '', type: 'CALL_RECORD', callType: 'GROUP', mediaType: 'VIDEO', totalNum: 3,
      callResult: 'NORMAL_END', rawCallResult: 'NormalEnd', eventTime: T + 65, startCallTs: T, acceptTs: T + 5, endTs: T + 65,
      command: V4_PATH, clientIp: null, platform: null,
    };
    expect(events).toEqual([
      { ...shared, userId: 'Alice', role: 'CALLER', body: record, dedupeKey: expect.stringMatching(/^record:[0-9a-f]{64}:0$/) },
      { ...shared, userId: 'Bob', role: 'CALLEE', body: { bodyIn: events[0].dedupeKey }, dedupeKey: expect.stringMatching(/:1$/) },
      { ...shared, userId: 'Carol', role: 'CALLEE', body: { bodyIn: events[0].dedupeKey }, dedupeKey: expect.stringMatching(/:2$/) },
    ]);
  });

  it('reads a v1 record (camelCase names, lowercase values) into the same events as its v4 twin', () => {
    for (const outcome of ['answered', 'rejected', 'missed', 'canceled'] as const) {
      const spec = { callId: 'c2', start: T, outcome, media: 'video' as const };
      const v1 = recordToEvents(V4_APP.sdkAppId, 'v1', v1Record(spec));
      const v4 = recordToEvents(V4_APP.sdkAppId, 'v4', v4Record(spec));
      expect(v1.map(facts)).toEqual(v4.map((e) => ({ ...facts(e), rawCallResult: expect.any(String) })));
      expect(v1[0]).toMatchObject({ command: V1_PATH, body: v1Record(spec) });
    }
    expect(recordToEvents(V1_APP.sdkAppId, 'v1', v1Record({ callId: 'c3', start: T, outcome: 'missed' }))[0]).toMatchObject({
      callResult: 'NOT_ANSWER', rawCallResult: 'not_answer', acceptTs: null, callType: 'SINGLE', mediaType: 'AUDIO',
    });
  });

  it('gives the same facts as the Call.CallbackAfterEndCall callback carrying the same record', () => {
    const record = v4Record({ callId: 'c4', start: T });
    const [callback] = parseV4Callback(V4_APP.sdkAppId, {}, { CallbackCommand: 'Call.CallbackAfterEndCall', CallRecord: record, EventTime: (T + 65) * 1000 });
    expect(facts(recordToEvents(V4_APP.sdkAppId, 'v4', record)[0])).toEqual({ ...facts(callback), clientIp: null, platform: null });
  });

  it('keys a record by its content: the same record twice gives the same keys, any change new ones', () => {
    const keys = (r: Record<string, unknown>) => recordToEvents(V4_APP.sdkAppId, 'v4', r).map((e) => e.dedupeKey);
    const record = v4Record({ callId: 'c5', start: T });
    expect(keys({ ...record })).toEqual(keys(Object.fromEntries(Object.entries(record).reverse())));
    expect(keys({ ...record, EndTime: T + 66 })[0]).not.toEqual(keys(record)[0]);
    expect(keys({ ...record, CallId: 'c6' })[0]).not.toEqual(keys(record)[0]);
  });

  it('names each user once, the caller first, however Tencent lists them', () => {
    const events = recordToEvents(V4_APP.sdkAppId, 'v4', { ...v4Record({ callId: 'c7', start: T }), CalleeList_Account: ['Bob', 'Alice', 'Bob'] });
    expect(events.map((e) => [e.userId, e.role])).toEqual([['Alice', 'CALLER'], ['Bob', 'CALLEE']]);
  });

  it('keeps numeric ids beyond 2^53 as the text of their digits', () => {
    const events = recordToEvents(V4_APP.sdkAppId, 'v4', { ...v4Record({ callId: 'c8', start: T }), Caller_Account: '144115212830834855', RoomId: 1234 });
    expect(events[0]).toMatchObject({ userId: '144115212830834855', roomId: '1234' });
  });

  it.each([
    ['the end time', {}, T + 65],
    ['the answer time when no end is given', { EndTime: 0 }, T + 5],
    ['the start time when neither is given', { EndTime: 0, AcceptTime: 0 }, T],
  ])('dates the record at %s', (_, over, want) => {
    expect(recordToEvents(V4_APP.sdkAppId, 'v4', { ...v4Record({ callId: 'c9', start: T }), ...over })[0].eventTime).toBe(want);
  });

  it.each([
    ['v4', 'no CallId', { CallId: undefined }, 'CallId: expected a non-empty string (or number) of at most 256 characters, got nothing'],
    ['v4', 'an empty caller', { Caller_Account: '' }, 'Caller_Account: expected a non-empty string (or number) of at most 256 characters, got ""'],
    ['v4', 'a start that is not a time', { StartTime: 'yesterday' }, 'StartTime: expected Unix seconds from 2001 to 2060, or 0 for unknown, got "yesterday"'],
    ['v4', 'an empty callee', { CalleeList_Account: ['Bob', ''] }, 'CalleeList_Account[1]: expected a non-empty string (or number) of at most 256 characters, got ""'],
    ['v4', '101 callees', { CalleeList_Account: Array.from({ length: 101 }, (_, i) => `u${i}`) }, 'CalleeList_Account: expected an array of at most 100 user ids'],
    ['v4', 'no time at all', { StartTime: 0, AcceptTime: 0, EndTime: 0 }, "EndTime: expected the call's end (or start) in Unix seconds, got 0"],
    ['v1', 'no callId', { callId: undefined }, 'callId: expected a non-empty string (or number) of at most 256 characters, got nothing'],
    ['v1', 'a negative end', { endTs: -5 }, 'endTs: expected Unix seconds from 2001 to 2060, or 0 for unknown, got -5'],
  ] as const)('refuses a %s record with %s, naming the field', (generation, _label, over, message) => {
    const record = { ...(generation === 'v4' ? v4Record({ callId: 'bad', start: T }) : v1Record({ callId: 'bad', start: T })), ...over };
    expect(() => recordToEvents(V4_APP.sdkAppId, generation, record)).toThrow(message);
  });

  it('refuses a record that is not a JSON object', () => {
    expect(() => recordToEvents(V4_APP.sdkAppId, 'v4', 'c1')).toThrow('record: expected a JSON object, got "c1"');
  });
});
