import { randomInt } from 'node:crypto';
import { mayHoldLargeIntegers, quoteLargeIntegers } from '../domain/large-integers';
import type { TrtcAppConfig } from '../trtc-apps.config';
import { RateLimiter, realClock, type Clock } from './rate-limiter';
import { apiBase, FILTER_PATHS, filterBody, readFilterReply, type RecordWindow } from './records-api.schema';
import { RecordsApiError, tencentError, V4_NO_RECORDS } from './records-error';
import { UserSigSigner } from './user-sig.service';

export interface RecordsClientOptions {
  /** `TRTC_API_BASE`: a base URL used instead of Tencent's host. */
  readonly apiBase: string | null;
  /** The limit shared by every app of the process (Tencent's 200 requests/s). */
  readonly global: RateLimiter;
  readonly clock?: Clock;
  /** Time one request may take (Tencent's own timeout is 3 s; page 60138 asks callers for more). */
  readonly timeoutMs?: number;
  /** Tries per page, the first included. */
  readonly attempts?: number;
  /** First backoff; it doubles per retry, with jitter, up to `maxBackoffMs`. */
  readonly backoffMs?: number;
  readonly maxBackoffMs?: number;
  readonly onRetry?: (err: RecordsApiError, attempt: number, delayMs: number) => void;
}

/** One page of records, as the API sent them. */
export interface RecordsPage {
  readonly page: number;
  /** Records matching the whole window, by this reply; `null` when it does not say. */
  readonly totalNum: number | null;
  readonly records: readonly unknown[];
}

/**
 * One app's client of Tencent's records API (docs/trtc-callbacks.md, section 7): POSTs the filter of
 * its generation with `sdkappid`, `identifier`, a fresh-enough `usersig`, `random` and
 * `contenttype=json`; within the app's and the process's rate limits; retrying, with exponential
 * backoff, 5xx answers, network errors, timeouts, rate limits and Tencent's internal errors; never
 * an authentication or configuration error. Errors name the app and what to fix; no URL in them
 * carries the UserSig.
 */
export class RecordsClient {
  private readonly limiter: RateLimiter;
  private readonly signer: UserSigSigner;
  private readonly clock: Clock;
  private readonly base: string;

  constructor(
    readonly app: TrtcAppConfig,
    private readonly options: RecordsClientOptions,
  ) {
    this.clock = options.clock ?? realClock;
    this.limiter = new RateLimiter(app.requestsPerSecond, 1000, this.clock);
    this.signer = new UserSigSigner(app.sdkAppId, app.secretKey, app.identifier);
    this.base = apiBase(app, options.apiBase);
  }

  /** One page (numbered from 1) of the records whose calls started in `window`. */
  async fetchPage(window: RecordWindow, page: number, signal?: AbortSignal): Promise<RecordsPage> {
    const attempts = this.options.attempts ?? 5;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.request(window, page, signal);
      } catch (err) {
        if (!(err instanceof RecordsApiError) || !err.retryable) throw err;
        if (attempt >= attempts) throw new RecordsApiError(err.kind, `${err.message} (gave up after ${attempts} attempts)`, false, err.tencentCode);
        const wait = this.backoff(attempt, err);
        this.options.onRetry?.(err, attempt, wait);
        await this.clock.sleep(wait, signal);
      }
    }
  }

  /** Exponential with jitter; a rate limit waits at least a second, the span Tencent counts in. */
  private backoff(attempt: number, err: RecordsApiError): number {
    const ceiling = Math.min(this.options.maxBackoffMs ?? 8000, (this.options.backoffMs ?? 500) * 2 ** (attempt - 1));
    const wait = Math.round(ceiling * (0.5 + Math.random() / 2));
    return err.kind === 'RATE_LIMITED' ? Math.max(1000, wait) : wait;
  }

  private async request(window: RecordWindow, page: number, signal?: AbortSignal): Promise<RecordsPage> {
    const { sdkAppId, generation } = this.app;
    const endpoint = `${this.base}/${FILTER_PATHS[generation]}`;
    const query = new URLSearchParams({ sdkappid: sdkAppId, identifier: this.app.identifier, usersig: this.signer.sign(), random: String(randomInt(0, 2 ** 32)), contenttype: 'json' });
    const answer = await this.limiter.run(() => this.options.global.run(() => this.post(`${endpoint}?${query}`, filterBody(generation, window, page), signal), signal), signal);
    const where = `app ${sdkAppId} (${generation} records API at ${endpoint})`;
    if (answer.status >= 500) throw new RecordsApiError('UNAVAILABLE', `${where}: answered HTTP ${answer.status}; calltrail retries with backoff`, true);
    if (answer.status !== 200) throw new RecordsApiError('CONFIG', `${where}: answered HTTP ${answer.status}; check TRTC_APPS region (or host) and generation for this app, or TRTC_API_BASE`, false);
    let json: unknown;
    try {
      json = JSON.parse(mayHoldLargeIntegers(answer.text) ? quoteLargeIntegers(answer.text) : answer.text);
    } catch {
      throw new RecordsApiError('BAD_RESPONSE', `${where}: expected a JSON reply, got ${JSON.stringify(answer.text.slice(0, 80))}`, true);
    }
    const reply = readFilterReply(generation, json);
    if (reply === null) throw new RecordsApiError('BAD_RESPONSE', `${where}: expected Tencent's documented reply (ErrorCode, records, TotalNum, Page), got another shape`, true);
    if (reply.errorCode === 0) return { page: reply.page, totalNum: reply.totalNum, records: reply.records };
    if (generation === 'v4' && reply.errorCode === V4_NO_RECORDS) return { page: 0, totalNum: 0, records: [] };
    throw tencentError(sdkAppId, generation, reply.errorCode, reply.errorInfo, reply.requestId);
  }

  /** One POST; network failures and timeouts become retryable errors, an abort by the caller stays an abort. */
  private async post(url: string, body: object, signal?: AbortSignal): Promise<{ status: number; text: string }> {
    const timeoutMs = this.options.timeoutMs ?? 10_000;
    const timeout = AbortSignal.timeout(timeoutMs);
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      return { status: res.status, text: await res.text() };
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      const where = `app ${this.app.sdkAppId} (${this.app.generation} records API at ${this.base})`;
      if (timeout.aborted) throw new RecordsApiError('UNAVAILABLE', `${where}: no answer within ${timeoutMs} ms; calltrail retries with backoff`, true);
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      // A fetch error can quote the URL: its UserSig must not reach a log.
      const why = String(cause?.code ?? cause?.message ?? (err as Error).message).replace(/usersig=[^&\s]*/gi, 'usersig=…');
      throw new RecordsApiError('UNAVAILABLE', `${where}: cannot be reached (${why}); check the network and TRTC_APPS region (or host)`, true);
    }
  }
}
