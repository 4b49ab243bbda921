import { AppError } from '../domain/app-error';
import { authenticateCallback, type CallbackAuthPolicy } from './callback-auth';
import type { BatchWriter, WriteResult } from './batch-writer';
import type { QuarantineRepository } from './quarantine.repository';
import { parseJsonBody, parseV1Callback, type CallbackQuery } from './trtc-v1.schema';

/** One received callback, as the HTTP edge hands it over. */
export interface IngestRequest {
  /** Query parameters with lower-cased names. */
  readonly query: CallbackQuery;
  /** The raw query string, kept in quarantine. */
  readonly queryString: string;
  readonly rawBody: Buffer;
}

/** What is kept of a body from a caller that did not pass the callback checks. */
const UNPROVEN_BODY_BYTES = 4096;

/**
 * Receives a callback: authenticates it, validates it, and hands it to the batch writer. A refusal
 * is kept in quarantine before it is answered; if even that cannot be stored, the callback is
 * answered as unavailable so Tencent retries it.
 */
export class IngestService {
  constructor(
    private readonly policy: CallbackAuthPolicy,
    private readonly writer: BatchWriter,
    private readonly quarantine: QuarantineRepository,
    private readonly nowSeconds: () => number = () => Math.floor(Date.now() / 1000),
  ) {}

  async receive(req: IngestRequest): Promise<WriteResult> {
    try {
      const sdkAppId = authenticateCallback(req.query, this.policy, this.nowSeconds());
      const event = parseV1Callback(sdkAppId, req.query, parseJsonBody(req.rawBody));
      return await this.writer.submit(event);
    } catch (err) {
      // Refusals (including a row PostgreSQL itself refused) are kept; UNAVAILABLE is retried by Tencent.
      if (err instanceof AppError && err.code !== 'UNAVAILABLE') await this.refuse(req, err);
      throw err;
    }
  }

  /**
   * Keeps a refused callback in quarantine; throws UNAVAILABLE if it cannot be kept. A caller that
   * does not pass the callback checks (app, token, signature) gets only its first 4 KiB kept.
   */
  async refuse(req: IngestRequest, err: AppError, bodyBytes = req.rawBody.length): Promise<void> {
    const kept = this.proves(req) ? req.rawBody : req.rawBody.subarray(0, UNPROVEN_BODY_BYTES);
    try {
      await this.quarantine.record({
        reason: err.message,
        errorCode: err.code,
        sdkAppId: /^\d+$/.test(req.query.sdkappid ?? '') ? (req.query.sdkappid as string) : null,
        queryString: req.queryString,
        rawBody: kept.toString('utf8'),
        bodyBytes,
      });
    } catch {
      throw new AppError('UNAVAILABLE', `database: expected to keep the refused callback (${err.code}) in quarantine, got an error; retry later`);
    }
  }

  private proves(req: IngestRequest): boolean {
    try {
      authenticateCallback(req.query, this.policy, this.nowSeconds());
      return true;
    } catch {
      return false;
    }
  }
}
