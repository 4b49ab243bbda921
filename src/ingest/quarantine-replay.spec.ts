import type { RejectedCallbackRecord } from '../quarantine/quarantine.repository';
import { replayRequest, whyNotReplayable } from './quarantine-replay';

const record = (over: Partial<RejectedCallbackRecord> = {}): RejectedCallbackRecord => ({
  id: '7',
  reason: 'sdkappid: expected an SDKAppID this server accepts, got "1400000002"',
  errorCode: 'UNKNOWN_APP',
  sdkAppId: '1400000002',
  queryString: 'sdkappid=1400000002&command=caller_start_call&token=***',
  rawBody: '{"CallId":"c"}',
  bodyEncoding: 'utf8',
  bodyBytes: 14,
  source: '10.0.0.1',
  credentialsOk: true,
  times: 3,
  firstSeenAt: new Date(0),
  lastSeenAt: new Date(0),
  ...over,
});

describe('whyNotReplayable', () => {
  it.each<[string, Partial<RejectedCallbackRecord>, boolean, string | null]>([
    ['an unknown app with valid credentials', {}, false, null],
    ['a body refusal with valid credentials', { errorCode: 'INVALID_FIELD' }, false, null],
    ['credentials found invalid', { errorCode: 'BAD_TOKEN', credentialsOk: false }, false, 'never found valid'],
    ['credentials not known (kept before they were recorded)', { credentialsOk: null }, false, '--unverified'],
    ['credentials found invalid, with --unverified', { errorCode: 'BAD_TOKEN', credentialsOk: false }, true, null],
    ['a body kept cut to 64 KiB', { errorCode: 'BODY_TOO_LARGE' }, true, 'cut to 64 KiB'],
    ['a compressed body', { errorCode: 'UNSUPPORTED_ENCODING', bodyEncoding: 'base64' }, true, 'Content-Encoding'],
    ['a v4 event kept with only a pointer to its body', { errorCode: 'EVENT_AHEAD', rawBody: '{"CallbackCommand":"Call.CallbackAfterStartCall","bodyIn":"ab12:0"}' }, true, 'event ab12:0'],
    ['a v4 body that happens to name bodyIn among its fields', { errorCode: 'EVENT_AHEAD', rawBody: '{"CallbackCommand":"x","bodyIn":"ab12:0","CallInfo":{}}' }, false, null],
  ])('decides for %s', (_name, over, unverified, why) => {
    const answer = whyNotReplayable(record(over), { unverified });
    if (why === null) expect(answer).toBeNull();
    else expect(answer).toContain(why);
  });
});

describe('replayRequest', () => {
  it('rebuilds the request from the kept query string and body', () => {
    expect(replayRequest(record())).toEqual({
      query: { sdkappid: '1400000002', command: 'caller_start_call', token: '***' },
      queryString: 'sdkappid=1400000002&command=caller_start_call&token=***',
      rawBody: Buffer.from('{"CallId":"c"}'),
      bodyBytes: 14,
      contentEncoding: null,
      source: 'quarantine-replay',
    });
  });

  it('decodes a body kept as base64', () => {
    expect(replayRequest(record({ rawBody: Buffer.from([0, 1, 2]).toString('base64'), bodyEncoding: 'base64' })).rawBody).toEqual(Buffer.from([0, 1, 2]));
  });
});
