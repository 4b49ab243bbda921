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
    private readonly timeoutMs: number,
    private readonly nowSeconds: () => number = () => Math.floor(Date.now() / 1000),
  ) {}

  async receive(req: IngestRequest): Promise<WriteResult> {
    let event;
    try {
      const sdkAppId = authenticateCallback(req.query, this.policy, this.nowSeconds());
      event = parseV1Callback(sdkAppId, req.query, parseJsonBody(req.rawBody));
    } catch (err) {
      if (err instanceof AppError) await this.refuse(req, err);
      throw err;
    }
    return withTimeout(this.writer.submit(event), this.timeoutMs);
  }

  /** Keeps a refused callback in quarantine; throws UNAVAILABLE if it cannot be kept. */
  async refuse(req: IngestRequest, err: AppError, bodyBytes = req.rawBody.length): Promise<void> {
    try {
      await this.quarantine.record({
        reason: err.message,
        errorCode: err.code,
        sdkAppId: /^\d+$/.test(req.query.sdkappid ?? '') ? (req.query.sdkappid as string) : null,
        queryString: req.queryString,
        rawBody: req.rawBody.toString('utf8'),
        bodyBytes,
      });
    } catch {
      throw new AppError('UNAVAILABLE', `database: expected to keep the refused callback (${err.code}) in quarantine, got an error; retry later`);
    }
  }
}

/** Settles with `work`, or rejects UNAVAILABLE after `ms`: a late commit is harmless (dedupe on retry). */
function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new AppError('UNAVAILABLE', `database: expected a commit within ${ms} ms, got none; retry later`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
