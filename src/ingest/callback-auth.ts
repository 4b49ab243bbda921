import { createHash, timingSafeEqual } from 'node:crypto';
import { AppError, fieldError } from '../domain/app-error';
import type { CallbackQuery } from './trtc-v1.schema';

/** What a callback must prove; built from the config. */
export interface CallbackAuthPolicy {
  /** Accepted SDKAppIDs; `null` accepts any. */
  readonly sdkAppIds: readonly string[] | null;
  readonly secret: string | null;
  readonly signToken: string | null;
  /** Largest accepted distance between `RequestTime` and now, in seconds. */
  readonly signWindowSeconds: number;
}

const digest = (s: string) => createHash('sha256').update(s).digest();
/** Constant-time comparison of two texts of any length. */
const sameText = (a: string, b: string) => timingSafeEqual(digest(a), digest(b));

/**
 * Checks the URL of a callback (docs/trtc-callbacks.md, section 4): the app is ours, the optional secret
 * `token` matches, the optional Chat-style `Sign` is valid and fresh. Returns the SDKAppID.
 */
export function authenticateCallback(query: CallbackQuery, policy: CallbackAuthPolicy, nowSeconds: number): string {
  const sdkAppId = query.sdkappid?.trim();
  if (sdkAppId === undefined || !/^\d{1,20}$/.test(sdkAppId)) {
    throw fieldError('INVALID_FIELD', 'sdkappid', 'the numeric SDKAppID as a query parameter', query.sdkappid);
  }
  if (policy.sdkAppIds !== null && !policy.sdkAppIds.includes(sdkAppId)) {
    throw fieldError('UNKNOWN_APP', 'sdkappid', 'an SDKAppID this server accepts', sdkAppId);
  }
  if (policy.secret !== null) {
    const token = query.token;
    if (token === undefined) throw fieldError('BAD_TOKEN', 'token', 'the callback secret as a query parameter', undefined);
    if (!sameText(token, policy.secret)) throw new AppError('BAD_TOKEN', 'token: expected the callback secret, got a different value', 'token');
  }
  if (policy.signToken !== null) verifySign(query, policy, nowSeconds);
  return sdkAppId;
}

function verifySign(query: CallbackQuery, policy: CallbackAuthPolicy, nowSeconds: number): void {
  const requestTime = query.requesttime;
  if (requestTime === undefined || !/^\d+$/.test(requestTime)) {
    throw fieldError('BAD_SIGNATURE', 'RequestTime', 'Unix seconds as a query parameter', requestTime);
  }
  const skew = Math.abs(nowSeconds - Number(requestTime));
  if (skew > policy.signWindowSeconds) {
    throw fieldError('BAD_SIGNATURE', 'RequestTime', `a time within ${policy.signWindowSeconds} s of now`, `${requestTime} (${skew} s away)`);
  }
  const sign = query.sign;
  if (sign === undefined) throw fieldError('BAD_SIGNATURE', 'Sign', 'hex(sha256(token + RequestTime)) as a query parameter', undefined);
  const expected = createHash('sha256').update(`${policy.signToken}${requestTime}`).digest('hex');
  if (!sameText(sign.toLowerCase(), expected)) {
    throw new AppError('BAD_SIGNATURE', 'Sign: expected hex(sha256(token + RequestTime)), got a signature that does not match', 'Sign');
  }
}
