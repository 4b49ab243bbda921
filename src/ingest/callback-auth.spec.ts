import { createHash } from 'node:crypto';
import { SDKAPPID, T0 } from '../../test/support/callbacks';
import type { AppErrorCode } from '../domain/app-error';
import { authenticateCallback, type CallbackAuthPolicy } from './callback-auth';
import type { CallbackQuery } from './trtc-v1.schema';
import { expectRefusal } from '../../test/support/refusal';

const SECRET = 'callback-secret-0123';
const SIGN_TOKEN = 'chat-sign-token';
const WINDOW = 300;
const NOW = T0;

/** Accepts only our app; no secret, no signature. */
const OPEN: CallbackAuthPolicy = { sdkAppIds: [SDKAPPID], secret: null, signToken: null, signWindowSeconds: WINDOW };
const policy = (over: Partial<CallbackAuthPolicy> = {}): CallbackAuthPolicy => ({ ...OPEN, ...over });
const WITH_SECRET = policy({ secret: SECRET });
const WITH_SIGN = policy({ signToken: SIGN_TOKEN });

/** The Chat-style signature: hex(sha256(token + RequestTime)). */
const signOf = (requestTime: string | number, token = SIGN_TOKEN) => createHash('sha256').update(`${token}${requestTime}`).digest('hex');

/** The lower-cased query of a v1 callback, as the HTTP edge hands it over. */
const query = (over: Record<string, string | undefined> = {}): CallbackQuery => ({
  sdkappid: SDKAPPID,
  command: 'caller_start_call',
  contenttype: 'json',
  clientip: '127.0.0.1',
  optplatform: 'iOS',
  ...over,
});
const signed = (requestTime: number, over: Record<string, string | undefined> = {}) =>
  query({ requesttime: String(requestTime), sign: signOf(requestTime), ...over });



describe('authenticateCallback: sdkappid', () => {
  it.each<[string, string | undefined, CallbackAuthPolicy, AppErrorCode, string[]]>([
    ['is missing', undefined, OPEN, 'INVALID_FIELD', ['numeric SDKAppID', 'got nothing']],
    ['is empty', '', OPEN, 'INVALID_FIELD', ['numeric SDKAppID', 'got ""']],
    ['is only whitespace', '  \t', OPEN, 'INVALID_FIELD', ['numeric SDKAppID']],
    ['is not numeric', 'my-app', OPEN, 'INVALID_FIELD', ['numeric SDKAppID', 'got "my-app"']],
    ['is hexadecimal', '0x5A', OPEN, 'INVALID_FIELD', ['got "0x5A"']],
    ['is negative', '-1400000001', OPEN, 'INVALID_FIELD', ['got "-1400000001"']],
    ['has a space inside', '1400 000001', OPEN, 'INVALID_FIELD', ['got "1400 000001"']],
    ['is longer than 20 digits', '1'.repeat(21), OPEN, 'INVALID_FIELD', ['numeric SDKAppID', '1'.repeat(21)]],
    ['is not one of ours', '1400000002', OPEN, 'UNKNOWN_APP', ['an SDKAppID this server accepts', 'got "1400000002"']],
    ['is not one of ours, trimmed in the message', ' 1400000002 ', OPEN, 'UNKNOWN_APP', ['got "1400000002"']],
    ['meets an empty accepted list', SDKAPPID, policy({ sdkAppIds: [] }), 'UNKNOWN_APP', [`got "${SDKAPPID}"`]],
  ])('refuses a callback whose sdkappid %s, naming the field', (_name, sdkappid, pol, code, fragments) => {
    expectRefusal(() => authenticateCallback(query({ sdkappid }), pol, NOW), code, 'sdkappid', fragments);
  });

  it.each<[string, string, readonly string[] | null, string]>([
    ['one of ours', SDKAPPID, [SDKAPPID], SDKAPPID],
    ['one of several of ours', '1400000002', ['1400000001', '1400000002'], '1400000002'],
    ['any app when the accepted list is null', '1600000042', null, '1600000042'],
    ['20 digits when the accepted list is null', '9'.repeat(20), null, '9'.repeat(20)],
    ['one of ours padded with whitespace, trimmed', ` ${SDKAPPID}\t`, [SDKAPPID], SDKAPPID],
  ])('accepts and returns an sdkappid that is %s', (_name, sdkappid, sdkAppIds, want) => {
    expect(authenticateCallback(query({ sdkappid }), policy({ sdkAppIds }), NOW)).toBe(want);
  });

  it('checks the app before the secret, so a stranger with a wrong token is told about the app', () => {
    expectRefusal(() => authenticateCallback(query({ sdkappid: '1400000009', token: 'nope' }), WITH_SECRET, NOW), 'UNKNOWN_APP', 'sdkappid', []);
  });
});

describe('authenticateCallback: token', () => {
  it.each<[string, string | undefined, string[]]>([
    ['is missing', undefined, ['the callback secret', 'got nothing']],
    ['is empty', '', ['the callback secret', 'different value']],
    ['is wrong with the same length', SECRET.replace(/.$/, 'X'), ['different value']],
    ['differs only in case', SECRET.toUpperCase(), ['different value']],
    ['is a prefix of the secret', SECRET.slice(0, 5), ['different value']],
    ['is the secret with more after it', `${SECRET}-and-more`, ['different value']],
    ['is padded with whitespace', ` ${SECRET} `, ['different value']],
  ])('refuses a callback whose token %s, naming the field', (_name, token, fragments) => {
    const err = expectRefusal(() => authenticateCallback(query({ token }), WITH_SECRET, NOW), 'BAD_TOKEN', 'token', fragments);
    expect(err.message).not.toContain(SECRET);
  });

  it('accepts a callback carrying the right token', () => {
    expect(authenticateCallback(query({ token: SECRET }), WITH_SECRET, NOW)).toBe(SDKAPPID);
  });

  it.each<[string, string | undefined]>([
    ['no token', undefined],
    ['any token', 'whatever'],
  ])('ignores %s when no secret is configured', (_name, token) => {
    expect(authenticateCallback(query({ token }), OPEN, NOW)).toBe(SDKAPPID);
  });
});

describe('authenticateCallback: Sign and RequestTime', () => {
  it.each<[string, CallbackQuery, string[]]>([
    ['is missing', query({ sign: signOf(NOW) }), ['Unix seconds', 'got nothing']],
    ['is empty', query({ requesttime: '', sign: signOf('') }), ['Unix seconds', 'got ""']],
    ['is not numeric', query({ requesttime: 'soon', sign: signOf('soon') }), ['Unix seconds', 'got "soon"']],
    ['is negative', query({ requesttime: '-5', sign: signOf('-5') }), ['got "-5"']],
    ['has a fraction', query({ requesttime: `${NOW}.5`, sign: signOf(`${NOW}.5`) }), [`got "${NOW}.5"`]],
    ['is one second too old', signed(NOW - WINDOW - 1), [`within ${WINDOW} s of now`, `${NOW - WINDOW - 1} (${WINDOW + 1} s away)`]],
    ['is one second too far ahead', signed(NOW + WINDOW + 1), [`within ${WINDOW} s of now`, `${NOW + WINDOW + 1} (${WINDOW + 1} s away)`]],
    ['is a day old', signed(NOW - 86_400), [`(86400 s away)`]],
    ['is in milliseconds', signed(NOW * 1000), [`within ${WINDOW} s of now`]],
  ])('refuses a signed callback whose RequestTime %s, naming the field', (_name, q, fragments) => {
    expectRefusal(() => authenticateCallback(q, WITH_SIGN, NOW), 'BAD_SIGNATURE', 'RequestTime', fragments);
  });

  it.each<[string, string | undefined, string[]]>([
    ['is missing', undefined, ['hex(sha256(token + RequestTime))', 'got nothing']],
    ['is empty', '', ['does not match']],
    ['uses another token', signOf(NOW, 'someone-elses-token'), ['hex(sha256(token + RequestTime))', 'does not match']],
    ['signs another RequestTime', signOf(NOW - 1), ['does not match']],
    ['hashes RequestTime before the token', createHash('sha256').update(`${NOW}${SIGN_TOKEN}`).digest('hex'), ['does not match']],
    ['is cut short', signOf(NOW).slice(0, 32), ['does not match']],
    ['is padded with whitespace', ` ${signOf(NOW)} `, ['does not match']],
    ['is base64 instead of hex', createHash('sha256').update(`${SIGN_TOKEN}${NOW}`).digest('base64'), ['does not match']],
  ])('refuses a callback whose Sign %s, naming the field', (_name, sign, fragments) => {
    expectRefusal(() => authenticateCallback(signed(NOW, { sign }), WITH_SIGN, NOW), 'BAD_SIGNATURE', 'Sign', fragments);
  });

  it.each<[string, number, (hex: string) => string]>([
    ['signed now, in lower-case hex', NOW, (h) => h],
    ['signed now, in upper-case hex', NOW, (h) => h.toUpperCase()],
    ['signed now, in mixed-case hex', NOW, (h) => h.replace(/[a-f]/, (c) => c.toUpperCase())],
    ['signed exactly the window ago', NOW - WINDOW, (h) => h],
    ['signed exactly the window ahead', NOW + WINDOW, (h) => h.toUpperCase()],
    ['signed one second ago', NOW - 1, (h) => h],
  ])('accepts a callback %s', (_name, requestTime, render) => {
    const q = query({ requesttime: String(requestTime), sign: render(signOf(requestTime)) });
    expect(authenticateCallback(q, WITH_SIGN, NOW)).toBe(SDKAPPID);
  });

  it('ignores Sign and RequestTime when no sign token is configured', () => {
    expect(authenticateCallback(query({ sign: 'garbage', requesttime: 'never' }), OPEN, NOW)).toBe(SDKAPPID);
  });

  it.each<[string, CallbackQuery, AppErrorCode, string]>([
    ['a right token with a wrong Sign is refused for the Sign', signed(NOW, { token: SECRET, sign: signOf(NOW, 'x') }), 'BAD_SIGNATURE', 'Sign'],
    ['a wrong token with a right Sign is refused for the token', signed(NOW, { token: 'wrong' }), 'BAD_TOKEN', 'token'],
    ['a missing token with a stale Sign is refused for the token', signed(NOW - 10 * WINDOW), 'BAD_TOKEN', 'token'],
  ])('with both a secret and a sign token, %s', (_name, q, code, field) => {
    expectRefusal(() => authenticateCallback(q, policy({ secret: SECRET, signToken: SIGN_TOKEN }), NOW), code, field, []);
  });

  it('accepts a callback with both the right token and a fresh, right Sign', () => {
    expect(authenticateCallback(signed(NOW, { token: SECRET }), policy({ secret: SECRET, signToken: SIGN_TOKEN }), NOW)).toBe(SDKAPPID);
  });
});
