import { AppError, type AppErrorCode } from '../domain/app-error';
import type { QuarantineService } from '../quarantine/quarantine.service';
import { authenticateCallback, type CallbackAuthPolicy } from './callback-auth';
import type { BatchWriter, SubmitResult } from './batch-writer';
import type { SpoolReplayTarget } from './event-spool';
import { parseJsonBody, parseV1Callback, type CallbackEvent, type CallbackQuery } from './trtc-v1.schema';
import { isV4Callback, parseV4Callback, parseV4DedupeKey, v4DedupeKey } from './trtc-v4.schema';

/** Largest accepted callback body (64 KiB); larger ones are refused 413 and quarantined. */
const CALLBACK_BODY_LIMIT = 64 * 1024;

/** One received callback, as the HTTP edge hands it over. */
export interface IngestRequest {
  /** Query parameters with lower-cased names. */
  readonly query: CallbackQuery;
  /** The raw query string, kept in quarantine. */
  readonly queryString: string;
  /** The body as read: empty when it was too large to read at all. */
  readonly rawBody: Buffer;
  /** The size of the body as sent. */
  readonly bodyBytes: number;
  /** `Content-Encoding` as sent; calltrail takes bodies as they are (Tencent sends plain JSON). */
  readonly contentEncoding: string | null;
  /** The address the request came from, for the quarantine's per-source bounds. */
  readonly source: string;
}

/** Finds the body stored with an event (src/ingest/ingest.repository.ts, storedEventBody). */
export type StoredBody = (sdkAppId: string, dedupeKey: string, eventTime: number) => Promise<Record<string, unknown> | null>;

/** A v4 event's callback (its app and body hash, `id`) and entry; null for a v1 event. */
function v4Callback(e: CallbackEvent): { readonly id: string; readonly hash: string; readonly entry: number } | null {
  const key = parseV4DedupeKey(e.dedupeKey);
  return key ? { id: `${e.sdkAppId}\n${key.hash}`, ...key } : null;
}

/** The outcome of the URL checks, kept so a refusal knows how much of the body to keep. */
type AuthOutcome = { readonly sdkAppId: string } | { readonly error: AppError };

/**
 * Decides what becomes of a callback: size, then the URL checks (app, token, signature), then the
 * body (zod, v1 or v4), then the batch writer. A refusal is kept in quarantine before it is answered; if
 * even that cannot be stored, the callback is answered as unavailable so Tencent retries it.
 */
export class IngestService implements SpoolReplayTarget {
  constructor(
    private readonly policy: CallbackAuthPolicy,
    private readonly writer: BatchWriter,
    private readonly quarantine: Pick<QuarantineService, 'keep'>,
    private readonly nowSeconds: () => number = () => Math.floor(Date.now() / 1000),
    private readonly storedBody: StoredBody | null = null,
  ) {}

  /**
   * v4 callbacks (app and body hash) the last replay batch kept whole in quarantine: their events in the
   * next batch need no row of their own. Only that long: a redelivery refused weeks later is kept again.
   */
  private keptLastBatch = new Set<string>();

  async receive(req: IngestRequest): Promise<SubmitResult> {
    const auth = this.authenticate(req);
    try {
      if (req.bodyBytes > CALLBACK_BODY_LIMIT) {
        throw new AppError('BODY_TOO_LARGE', `body: expected at most ${CALLBACK_BODY_LIMIT} bytes, got ${req.bodyBytes}`, 'body');
      }
      const encoding = req.contentEncoding?.trim().toLowerCase();
      if (encoding && encoding !== 'identity') {
        throw new AppError('UNSUPPORTED_ENCODING', `Content-Encoding: expected none (plain JSON), got ${JSON.stringify(req.contentEncoding)}`, 'Content-Encoding');
      }
      if ('error' in auth) throw auth.error;
      const body = parseJsonBody(req.rawBody);
      // A v4 callback becomes one event per user it names (docs/trtc-callbacks.md, section 5); v1 is one event.
      const events = isV4Callback(req.query, body) ? parseV4Callback(auth.sdkAppId, req.query, body) : [parseV1Callback(auth.sdkAppId, req.query, body)];
      return await this.submitAll(events);
    } catch (err) {
      // Refusals (including a row PostgreSQL itself refused) are kept; UNAVAILABLE is retried by Tencent.
      if (err instanceof AppError && err.code !== 'UNAVAILABLE') await this.refuse(req, err, !('error' in auth));
      throw err;
    }
  }

  /**
   * Stores callbacks replayed from the outage spool through the same path as live ones; an event
   * refused now (a row PostgreSQL refuses, or a time outside the window since it was acknowledged) is
   * kept in quarantine instead, as a request `npm run quarantine -- replay` can take. A v4 callback is
   * kept once, with its whole body, found in this batch, or stored with its first event: its other
   * events hold only a pointer to it, and the spool may have split them from their first event (their
   * first event stored live, a replay batch's end). Throws while the database is away, so the spool
   * keeps them for the next try.
   */
  async store(events: readonly CallbackEvent[]): Promise<void> {
    const firsts = new Map<string, CallbackEvent>();
    for (const e of events) {
      const v4 = v4Callback(e);
      if (v4?.entry === 0) firsts.set(v4.id, e);
    }
    const outcomes = await this.writer.writeIsolated(events);
    const kept = new Set<string>();
    for (const [i, outcome] of outcomes.entries()) {
      if (!(outcome instanceof AppError)) continue;
      const e = events[i];
      const v4 = v4Callback(e);
      // Replaying a v4 body submits all its events again; those already stored are duplicates.
      if (v4 && (kept.has(v4.id) || this.keptLastBatch.has(v4.id))) continue;
      const body = v4 ? (firsts.get(v4.id)?.body ?? (await this.storedBody?.(e.sdkAppId, v4DedupeKey(v4.hash, 0), e.eventTime)) ?? null) : e.body;
      // Not found: its first event was refused too, and kept whole, by an earlier process (or deleted since).
      const reason = body === null ? `${outcome.message} (only a pointer to its callback's body is kept here: its first event was neither replayed with it nor stored)` : outcome.message;
      await this.keepReplayed(e, outcome.code, reason, body ?? e.body, v4 !== null);
      if (v4 && body !== null) kept.add(v4.id);
    }
    this.keptLastBatch = kept;
  }

  /** Keeps a callback that spool replay could not store: it was acknowledged, so it is kept whole whatever the quarantine's bounds. */
  private async keepReplayed(e: CallbackEvent, code: AppErrorCode, reason: string, body: Record<string, unknown>, v4: boolean): Promise<void> {
    const raw = Buffer.from(JSON.stringify(body));
    const query: Record<string, string> = { sdkappid: e.sdkAppId, [v4 ? 'callbackcommand' : 'command']: e.command ?? '' };
    if (e.clientIp !== null) query.clientip = e.clientIp;
    if (e.platform !== null) query.optplatform = e.platform;
    query.spooled = '1';
    await this.quarantine.keep({
      reason,
      errorCode: code,
      sdkAppId: e.sdkAppId,
      queryString: new URLSearchParams(query).toString(),
      body: raw,
      bodyBytes: raw.length,
      source: 'spool',
      proven: true,
      acknowledged: true,
    });
  }


  /**
   * Submits the events of one callback and answers once every one is settled: with the first
   * failure, if any (a retry then finds the others already stored), else with the least durable
   * result: spooled, then stored, then duplicate.
   */
  private async submitAll(events: readonly CallbackEvent[]): Promise<SubmitResult> {
    if (events.length === 1) return this.writer.submit(events[0]);
    const settled = await Promise.allSettled(events.map((e) => this.writer.submit(e)));
    const results: SubmitResult[] = [];
    for (const s of settled) {
      if (s.status === 'rejected') throw s.reason;
      results.push(s.value);
    }
    return results.includes('spooled') ? 'spooled' : results.includes('stored') ? 'stored' : 'duplicate';
  }

  private authenticate(req: IngestRequest): AuthOutcome {
    try {
      return { sdkAppId: authenticateCallback(req.query, this.policy, this.nowSeconds()) };
    } catch (err) {
      if (err instanceof AppError) return { error: err };
      throw err;
    }
  }

  /** True when the URL's token and signature (those configured) are valid, whatever its app. */
  private credentialsHold(query: CallbackQuery): boolean {
    try {
      authenticateCallback(query, { ...this.policy, sdkAppIds: null }, this.nowSeconds());
      return true;
    } catch {
      return false;
    }
  }

  /** Keeps a refused callback in quarantine, or counts it (the policy is QuarantineService's); UNAVAILABLE if it cannot be kept. */
  private async refuse(req: IngestRequest, err: AppError, proven: boolean): Promise<void> {
    try {
      await this.quarantine.keep({
        reason: err.message,
        errorCode: err.code,
        sdkAppId: /^\d{1,20}$/.test(req.query.sdkappid ?? '') ? (req.query.sdkappid as string) : null,
        queryString: req.queryString,
        body: req.rawBody.subarray(0, CALLBACK_BODY_LIMIT),
        bodyBytes: req.bodyBytes,
        source: req.source,
        proven,
        credentialsOk: proven || this.credentialsHold(req.query),
      });
    } catch {
      throw new AppError('UNAVAILABLE', `database: expected to keep the refused callback (${err.code}) in quarantine, got an error; retry later`);
    }
  }
}
