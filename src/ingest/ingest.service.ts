import { AppError } from '../domain/app-error';
import type { QuarantineRepository } from '../quarantine/quarantine.repository';
import { authenticateCallback, type CallbackAuthPolicy } from './callback-auth';
import type { BatchWriter, WriteResult } from './batch-writer';
import { parseJsonBody, parseV1Callback, type CallbackQuery } from './trtc-v1.schema';

/** Largest accepted callback body (64 KiB); larger ones are refused 413 and quarantined. */
export const CALLBACK_BODY_LIMIT = 64 * 1024;

/** What is kept of a body from a caller that did not pass the callback checks. */
const UNPROVEN_BODY_BYTES = 4096;

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
}

/** The outcome of the URL checks, kept so a refusal knows how much of the body to keep. */
type AuthOutcome = { readonly sdkAppId: string } | { readonly error: AppError };

/**
 * Decides what becomes of a callback: size, then the URL checks (app, token, signature), then the
 * body (zod), then the batch writer. A refusal is kept in quarantine before it is answered; if
 * even that cannot be stored, the callback is answered as unavailable so Tencent retries it.
 */
export class IngestService {
  constructor(
    private readonly policy: CallbackAuthPolicy,
    private readonly writer: BatchWriter,
    private readonly quarantine: QuarantineRepository,
    private readonly nowSeconds: () => number = () => Math.floor(Date.now() / 1000),
  ) {}

  async receive(req: IngestRequest): Promise<WriteResult> {
    const auth = this.authenticate(req);
    try {
      if (req.bodyBytes > CALLBACK_BODY_LIMIT) {
        throw new AppError('BODY_TOO_LARGE', `body: expected at most ${CALLBACK_BODY_LIMIT} bytes, got ${req.bodyBytes}`, 'body');
      }
      if ('error' in auth) throw auth.error;
      const event = parseV1Callback(auth.sdkAppId, req.query, parseJsonBody(req.rawBody));
      return await this.writer.submit(event);
    } catch (err) {
      // Refusals (including a row PostgreSQL itself refused) are kept; UNAVAILABLE is retried by Tencent.
      if (err instanceof AppError && err.code !== 'UNAVAILABLE') await this.refuse(req, err, !('error' in auth));
      throw err;
    }
  }

  private authenticate(req: IngestRequest): AuthOutcome {
    try {
      return { sdkAppId: authenticateCallback(req.query, this.policy, this.nowSeconds()) };
    } catch (err) {
      if (err instanceof AppError) return { error: err };
      throw err;
    }
  }

  /**
   * Keeps a refused callback in quarantine (up to 64 KiB of its body; 4 KiB for a caller that did
   * not pass the URL checks); throws UNAVAILABLE if it cannot be kept.
   */
  private async refuse(req: IngestRequest, err: AppError, proven: boolean): Promise<void> {
    const kept = req.rawBody.subarray(0, proven ? CALLBACK_BODY_LIMIT : UNPROVEN_BODY_BYTES);
    try {
      await this.quarantine.record({
        reason: err.message,
        errorCode: err.code,
        sdkAppId: /^\d+$/.test(req.query.sdkappid ?? '') ? (req.query.sdkappid as string) : null,
        queryString: req.queryString,
        rawBody: kept.toString('utf8'),
        bodyBytes: req.bodyBytes,
      });
    } catch {
      throw new AppError('UNAVAILABLE', `database: expected to keep the refused callback (${err.code}) in quarantine, got an error; retry later`);
    }
  }
}
