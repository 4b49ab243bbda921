import { makeCallback, makeStatusCallback, SDKAPPID } from '../../test/support/callbacks';
import { makeEndCall } from '../../test/support/callbacks-v4';
import { expectRefusal } from '../../test/support/refusal';
import { callbackQuery, queryFor, readArchiveLine, v1Command } from './archive-line';

const NO_APP = { app: null, source: 'import' };
const WITH_APP = { app: '1400000002', source: 'import' };
const line = (value: unknown) => JSON.stringify(value);

describe('readArchiveLine', () => {
  it('reads {"query", "body"} as the request Tencent sent', () => {
    const body = makeCallback();
    const req = readArchiveLine(line({ query: `sdkappid=${SDKAPPID}&command=caller_start_call&Token=x`, body }), NO_APP);
    expect(req).toEqual({
      query: { sdkappid: SDKAPPID, command: 'caller_start_call', token: 'x' },
      queryString: `sdkappid=${SDKAPPID}&command=caller_start_call&Token=x`,
      rawBody: Buffer.from(JSON.stringify(body)),
      bodyBytes: JSON.stringify(body).length,
      contentEncoding: null,
      source: 'import',
    });
  });

  it.each([
    ['a leading ?', `?sdkappid=${SDKAPPID}&command=x`],
    ['a path', `/callback?sdkappid=${SDKAPPID}&command=x`],
    ['a whole URL', `https://calltrail.example/callback?sdkappid=${SDKAPPID}&command=x`],
    ['an object of parameters', { sdkappid: Number(SDKAPPID), command: 'x' }],
  ])('takes the query string from %s', (_name, query) => {
    expect(readArchiveLine(line({ query, body: makeCallback() }), NO_APP).query).toEqual({ sdkappid: SDKAPPID, command: 'x' });
  });

  it('keeps a body given as text byte for byte, even one that is not JSON', () => {
    const text = '{"UserId":"Alice",  "CallId":"c"}';
    expect(readArchiveLine(line({ query: `sdkappid=${SDKAPPID}`, body: text }), NO_APP).rawBody.toString()).toBe(text);
    expect(readArchiveLine(line({ query: `sdkappid=${SDKAPPID}`, body: 'not json' }), NO_APP).rawBody.toString()).toBe('not json');
  });

  it('rebuilds the query of a bare v1 body for --app, with the command Tencent sends', () => {
    const req = readArchiveLine(line(makeCallback({ Role: 'callee', Event: 'accept_call' })), WITH_APP);
    expect(req.query).toEqual({ sdkappid: '1400000002', command: 'callee_accept_call', contenttype: 'json' });
  });

  it('rebuilds the query of a bare v4 body for --app', () => {
    expect(readArchiveLine(line(makeEndCall()), WITH_APP).query).toEqual({ sdkappid: '1400000002', callbackcommand: 'Call.CallbackAfterEndCall', contenttype: 'json' });
  });

  it('adds --app to a query that names no app, and leaves one that does', () => {
    expect(readArchiveLine(line({ query: 'command=caller_start_call', body: makeCallback() }), WITH_APP).query).toEqual({ sdkappid: '1400000002', command: 'caller_start_call' });
    expect(readArchiveLine(line({ query: `sdkappid=${SDKAPPID}`, body: makeCallback() }), WITH_APP).query.sdkappid).toBe(SDKAPPID);
  });

  it.each<[string, string, 'INVALID_JSON' | 'INVALID_FIELD', string, string[]]>([
    ['is not JSON', 'sdkappid=1&{', 'INVALID_JSON', 'line', ['"query"', 'got "sdkappid=1&{"']],
    ['is a JSON array', '[1,2]', 'INVALID_JSON', 'line', ['a JSON object', 'got [1,2]']],
    ['is a bare body with no --app', line(makeCallback()), 'INVALID_FIELD', 'query', ['--app', 'no query string']],
    ['has a query that is a number', line({ query: 5, body: {} }), 'INVALID_FIELD', 'query', ['a query string', 'got 5']],
    ['has a null body', line({ query: 'sdkappid=1', body: null }), 'INVALID_FIELD', 'body', ['the callback body', 'got null']],
  ])('refuses a line that %s, naming what it expected', (_name, text, code, field, fragments) => {
    expectRefusal(() => readArchiveLine(text, NO_APP), code, field, fragments);
  });
});

describe('v1Command and queryFor', () => {
  it.each([
    [makeCallback(), 'caller_start_call'],
    [makeCallback({ Role: 'callee', Event: 'reject_call' }), 'callee_reject_call'],
    [makeCallback({ Role: '', Event: 'invite_user' }), 'invite_user'],
    [makeStatusCallback({ CallResult: 'not_answer' }), 'not_answer'],
    [makeStatusCallback({ CallResult: '' }), 'call_end'],
  ])('names the command of %j as %s', (body, command) => {
    expect(v1Command(body)).toBe(command);
  });

  it('reads back what it writes', () => {
    expect(callbackQuery(queryFor('7', makeStatusCallback()))).toEqual({ sdkappid: '7', command: 'normal_end', contenttype: 'json' });
  });
});
