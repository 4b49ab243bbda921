import type { RecordsApiGeneration } from '../trtc-apps.config';

/** What went wrong, for callers that branch on it; the message says what to fix. */
export type RecordsErrorKind = 'AUTH' | 'CONFIG' | 'NOT_ENTITLED' | 'BAD_REQUEST' | 'RATE_LIMITED' | 'UNAVAILABLE' | 'BAD_RESPONSE';

/** A failure of the records API, with a message naming the app and what to fix. */
export class RecordsApiError extends Error {
  constructor(
    readonly kind: RecordsErrorKind,
    message: string,
    /** Worth another try (with backoff): rate limits, Tencent's own failures, the network. */
    readonly retryable: boolean,
    /** Tencent's `ErrorCode`, when it sent one. */
    readonly tencentCode: number | null = null,
  ) {
    super(message);
    this.name = 'RecordsApiError';
  }
}

interface Meaning {
  readonly kind: RecordsErrorKind;
  readonly meaning: string;
  readonly fix: string;
}

const KEY = "check TRTC_APPS secretKey: it must be this app's secret key (TRTC console, the application's basic information)";
const CLOCK = "calltrail signs a fresh UserSig valid for 24 hours, so check this machine's clock";
const ADMIN = 'set TRTC_APPS identifier to an App administrator account of this app (Tencent creates "administrator")';
const RATE = 'calltrail retries with backoff; if it persists, lower requestsPerSecond for this app in TRTC_APPS (other tools may share the limit)';
const RETRY = 'calltrail retries with backoff; if it persists, try again later or ask Tencent, quoting the RequestId';
const GEN = 'check TRTC_APPS generation for this app ("v1" for TUICallKit call()/groupCall(), "v4" for calls())';
const HOST = 'check TRTC_APPS region (or host) for this app: it must be the region the app was created in';

const auth = (meaning: string, fix: string): Meaning => ({ kind: 'AUTH', meaning, fix });
const rateLimited: Meaning = { kind: 'RATE_LIMITED', meaning: "Tencent limited this app's request rate", fix: RATE };
const internal: Meaning = { kind: 'UNAVAILABLE', meaning: "Tencent's records service failed", fix: RETRY };

/** v1 records API codes (TRTC Call's "Introduction to REST API", page 60138). */
const V1: ReadonlyMap<number, Meaning> = new Map([
  [50001, { kind: 'NOT_ENTITLED', meaning: 'the app has no TUICallKit Group Call package, which the records API needs', fix: 'activate the Group Call package (or its trial) for this app in the TRTC console' }],
  [70001, { kind: 'BAD_REQUEST', meaning: "Tencent refused the request's parameters", fix: `keep the window within Tencent's last 7 days and ${GEN}` }],
  [70002, auth('the UserSig is invalid', KEY)],
  [70003, auth('the UserSig has expired', CLOCK)],
  [70004, auth('the identifier is not an App administrator', ADMIN)],
  [70005, rateLimited],
  [70009, { kind: 'BAD_REQUEST', meaning: 'Tencent could not parse the request body', fix: GEN }],
]);

/** v4 codes: Chat's common REST codes (60000-79999) and the records API's own (page 68931). */
const V4: ReadonlyMap<number, Meaning> = new Map([
  [70001, auth('the UserSig has expired', CLOCK)],
  [70002, auth('the UserSig is empty', KEY)],
  [70003, auth('the UserSig is invalid', KEY)],
  [70004, auth('the UserSig is invalid', KEY)],
  [70005, auth('the UserSig is invalid', KEY)],
  [70009, auth("the UserSig does not verify: it was signed with another app's key", KEY)],
  [70013, auth('the UserSig was signed for another identifier', ADMIN)],
  [70014, auth('the UserSig was signed for another SDKAppID', KEY)],
  [70016, { kind: 'CONFIG', meaning: "this region does not know the app's key", fix: HOST }],
  [70020, { kind: 'CONFIG', meaning: 'this region does not know the SDKAppID', fix: HOST }],
  [60004, auth('the identifier or the UserSig is wrong', `${ADMIN}, and ${KEY}`)],
  [60005, auth('the identifier or the UserSig is wrong', `${ADMIN}, and ${KEY}`)],
  [60006, { kind: 'CONFIG', meaning: 'the SDKAppID is not valid', fix: 'check the SDKAppID in TRTC_APPS' }],
  [60010, auth('the request needs an App administrator', ADMIN)],
  [60016, { kind: 'CONFIG', meaning: 'the SDKAppID is disabled', fix: 'enable the app in the TRTC console' }],
  [60020, { kind: 'NOT_ENTITLED', meaning: "the app's package has expired", fix: 'renew the package in the Chat console' }],
  [60021, { kind: 'CONFIG', meaning: "calltrail's IP address is not allowed to call the REST API", fix: "add this machine's public IP to the app's REST API IP allowlist" }],
  [60007, rateLimited],
  [60011, rateLimited],
  [60018, rateLimited],
  [60019, rateLimited],
  [70050, rateLimited],
  [60008, internal],
  [101001, internal],
]);

/** v4's code for "Call records do not exist": for a filter, a window with no (more) records, not a failure. */
export const V4_NO_RECORDS = 101050;

const clip = (text: string) => (text.length > 200 ? `${text.slice(0, 197)}...` : text);

/**
 * Tencent's `ErrorCode` (not 0) as an error naming the app, what it means and what to fix. Codes of
 * the two generations overlap with different meanings, so each has its table. An unknown code is
 * retried for v1 (Tencent documents it as an internal error) and not for v4.
 */
export function tencentError(sdkAppId: string, generation: RecordsApiGeneration, code: number, info: string, requestId: string | null): RecordsApiError {
  const known = (generation === 'v1' ? V1 : V4).get(code);
  const m: Meaning = known ?? { kind: generation === 'v1' ? 'UNAVAILABLE' : 'BAD_REQUEST', meaning: 'Tencent answered an error calltrail does not know', fix: RETRY };
  const sent = [`ErrorCode ${code}`, info ? `"${clip(info)}"` : '', requestId ? `RequestId ${requestId}` : ''].filter(Boolean).join(', ');
  const retryable = m.kind === 'RATE_LIMITED' || m.kind === 'UNAVAILABLE';
  return new RecordsApiError(m.kind, `app ${sdkAppId} (${generation} records API): ${m.meaning} (${sent}); ${m.fix}`, retryable, code);
}
