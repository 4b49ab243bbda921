import { AppError } from '../domain/app-error';
import type { QuarantineRepository, RejectedCallbackRecord } from '../quarantine/quarantine.repository';
import { callbackQuery } from './archive-line';
import type { SubmitResult } from './batch-writer';
import type { IngestRequest, IngestService } from './ingest.service';

/** What became of one replayed refusal. */
export type ReplayOutcome =
  /** Stored now, or stored before: the refusal is removed from the quarantine. */
  | { readonly id: string; readonly kind: 'stored' | 'duplicate' }
  /** Refused again: the refusal stays, with this code and reason. */
  | { readonly id: string; readonly kind: 'refused'; readonly code: string; readonly reason: string }
  /** Not tried: why it cannot be replayed. */
  | { readonly id: string; readonly kind: 'skipped'; readonly reason: string };

export interface ReplayOptions {
  /** Also replay refusals whose token or Sign was never found valid (the operator vouches for them). */
  readonly unverified: boolean;
}

/** Which refusals to replay: one by id, or all (optionally those of one code or reason). */
export interface ReplaySelection {
  readonly id?: string;
  readonly reason?: string;
}

/** What ingest made of one refusal's request. */
type Attempt = { readonly result: SubmitResult } | { readonly refusal: AppError } | { readonly skipped: string };

/** Refusals read and replayed at a time. */
const BATCH = 100;

/** The event a kept body points to (a v4 callback's later event, kept by spool replay without its callback's body), or null. */
function pointedTo(r: RejectedCallbackRecord): string | null {
  if (r.bodyEncoding !== 'utf8' || !r.rawBody.includes('"bodyIn"')) return null;
  try {
    const body: unknown = JSON.parse(r.rawBody);
    const bodyIn = (body as { bodyIn?: unknown } | null)?.bodyIn;
    return typeof bodyIn === 'string' && Object.keys(body as object).length <= 2 ? bodyIn : null;
  } catch {
    return null;
  }
}

/** Why a kept refusal cannot be replayed as it is, or null when it can. */
export function whyNotReplayable(r: RejectedCallbackRecord, options: ReplayOptions): string | null {
  if (r.errorCode === 'BODY_TOO_LARGE') return 'its body was kept cut to 64 KiB';
  if (r.errorCode === 'UNSUPPORTED_ENCODING') return 'its body was kept encoded, and its Content-Encoding was not kept';
  const pointer = pointedTo(r);
  if (pointer !== null) return `its body only points to its v4 callback's whole body (event ${pointer}), which another kept row or call_events holds: replay that one`;
  if (r.credentialsOk !== true && !options.unverified) {
    return 'its token or Sign was never found valid (they are masked in the quarantine); use --unverified only if you know Tencent sent it';
  }
  return null;
}

/** The request a kept refusal was, as far as it was kept: its query string (secrets masked) and its body. */
export function replayRequest(r: RejectedCallbackRecord): IngestRequest {
  const rawBody = Buffer.from(r.rawBody, r.bodyEncoding === 'base64' ? 'base64' : 'utf8');
  return { query: callbackQuery(r.queryString), queryString: r.queryString, rawBody, bodyBytes: r.bodyBytes, contentEncoding: null, source: 'quarantine-replay' };
}

/**
 * Replays refusals kept whole in `rejected_callbacks` through `ingest`: the same checks (with the
 * configuration of now, e.g. an app added to SDKAPPIDS) and the same dedupe as a callback from
 * Tencent, except `token` and `Sign`, which were checked when it arrived (`credentials_ok`) and are
 * masked since. A stored callback's refusal is removed (the callback is in `call_events` now); one
 * refused again stays, with its new reason. The `ingest` given must not keep refusals itself.
 */
export class QuarantineReplay {
  constructor(
    private readonly repository: QuarantineRepository,
    private readonly ingest: Pick<IngestService, 'receive'>,
    private readonly options: ReplayOptions,
  ) {}

  /** Replays the selection oldest first; `onOutcome` hears of each. Throws when the database cannot take them. */
  async replay(selection: ReplaySelection, onOutcome: (o: ReplayOutcome) => void = () => undefined): Promise<ReplayOutcome[]> {
    const outcomes: ReplayOutcome[] = [];
    let afterId: string | undefined;
    for (;;) {
      const rows = await this.repository.find({ ...selection, afterId, order: 'ASC', limit: BATCH });
      if (rows.length === 0) return outcomes;
      // Ingested together (one transaction can take them all); the quarantine updated one at a time.
      const attempts = await Promise.all(rows.map((r) => this.attempt(r)));
      for (const [i, attempt] of attempts.entries()) {
        const o = await this.settle(rows[i], attempt);
        outcomes.push(o);
        onOutcome(o);
      }
      if (selection.id !== undefined) return outcomes;
      afterId = rows[rows.length - 1].id;
    }
  }

  private async attempt(r: RejectedCallbackRecord): Promise<Attempt> {
    const why = whyNotReplayable(r, this.options);
    if (why !== null) return { skipped: why };
    try {
      return { result: await this.ingest.receive(replayRequest(r)) };
    } catch (err) {
      if (!(err instanceof AppError) || err.code === 'UNAVAILABLE') throw err;
      return { refusal: err };
    }
  }

  private async settle(r: RejectedCallbackRecord, attempt: Attempt): Promise<ReplayOutcome> {
    if ('skipped' in attempt) return { id: r.id, kind: 'skipped', reason: attempt.skipped };
    if ('refusal' in attempt) {
      await this.repository.refuseAgain(r, attempt.refusal.code, attempt.refusal.message);
      return { id: r.id, kind: 'refused', code: attempt.refusal.code, reason: attempt.refusal.message };
    }
    await this.repository.remove(r.id);
    return { id: r.id, kind: attempt.result === 'duplicate' ? 'duplicate' : 'stored' };
  }
}
