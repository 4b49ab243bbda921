import { RecordsApiError, tencentError } from './records-error';

const APP = '1400000001';

describe('tencentError', () => {
  it.each([
    // v1 codes (page 60138)
    ['v1', 50001, 'NOT_ENTITLED', false, 'the app has no TUICallKit Group Call package', 'activate the Group Call package'],
    ['v1', 70001, 'BAD_REQUEST', false, "Tencent refused the request's parameters", "keep the window within Tencent's last 7 days"],
    ['v1', 70002, 'AUTH', false, 'the UserSig is invalid', 'check TRTC_APPS secretKey'],
    ['v1', 70003, 'AUTH', false, 'the UserSig has expired', "check this machine's clock"],
    ['v1', 70004, 'AUTH', false, 'the identifier is not an App administrator', 'set TRTC_APPS identifier'],
    ['v1', 70005, 'RATE_LIMITED', true, "Tencent limited this app's request rate", 'lower requestsPerSecond'],
    ['v1', 70009, 'BAD_REQUEST', false, 'Tencent could not parse the request body', 'check TRTC_APPS generation'],
    ['v1', 99999, 'UNAVAILABLE', true, 'Tencent answered an error calltrail does not know', 'calltrail retries with backoff'],
    // v4 codes (Chat's common codes, page 68931's own)
    ['v4', 70001, 'AUTH', false, 'the UserSig has expired', "check this machine's clock"],
    ['v4', 70002, 'AUTH', false, 'the UserSig is empty', 'check TRTC_APPS secretKey'],
    ['v4', 70003, 'AUTH', false, 'the UserSig is invalid', 'check TRTC_APPS secretKey'],
    ['v4', 70004, 'AUTH', false, 'the UserSig is invalid', 'check TRTC_APPS secretKey'],
    ['v4', 70005, 'AUTH', false, 'the UserSig is invalid', 'check TRTC_APPS secretKey'],
    ['v4', 70009, 'AUTH', false, "signed with another app's key", "it must be this app's secret key"],
    ['v4', 70016, 'CONFIG', false, "this region does not know the app's key", 'check TRTC_APPS region'],
    ['v4', 60010, 'AUTH', false, 'the request needs an App administrator', 'set TRTC_APPS identifier'],
    ['v4', 60011, 'RATE_LIMITED', true, "Tencent limited this app's request rate", 'lower requestsPerSecond'],
    ['v4', 101001, 'UNAVAILABLE', true, "Tencent's records service failed", 'calltrail retries with backoff'],
    ['v4', 99999, 'BAD_REQUEST', false, 'Tencent answered an error calltrail does not know', 'quoting the RequestId'],
  ] as const)('reads %s ErrorCode %i as %s (retried: %s), naming the app, the meaning and the fix', (generation, code, kind, retryable, meaning, fix) => {
    const err = tencentError(APP, generation, code, 'as Tencent put it', 'Id-42');
    expect(err).toBeInstanceOf(RecordsApiError);
    expect(err).toMatchObject({ kind, retryable, tencentCode: code });
    expect(err.message).toContain(`app ${APP} (${generation} records API): `);
    expect(err.message).toContain(meaning);
    expect(err.message).toContain(`(ErrorCode ${code}, "as Tencent put it", RequestId Id-42)`);
    expect(err.message).toContain(fix);
  });

  it('reads the same code differently in each generation', () => {
    expect(tencentError(APP, 'v1', 70003, '', null).message).toContain('the UserSig has expired');
    expect(tencentError(APP, 'v4', 70003, '', null).message).toContain('the UserSig is invalid');
  });

  it("cuts Tencent's error text at 200 characters and leaves out what it did not send", () => {
    const err = tencentError(APP, 'v4', 70009, 'x'.repeat(500), null);
    expect(err.message).toContain(`(ErrorCode 70009, "${'x'.repeat(197)}...")`);
    expect(tencentError(APP, 'v4', 70009, '', null).message).toContain('(ErrorCode 70009)');
  });
});
