import { AppError } from '../domain/app-error';
import type { BatchWriter } from '../ingest/batch-writer';
import type { CallbackEvent } from '../ingest/trtc-v1.schema';
import { recordPages, type NumberedPage } from './record-pages';
import { recordToEvents } from './record.mapper';
import type { RecordWindow } from './records-api.schema';
import type { RecordsClient } from './records.client';
import type { RecordsRepository } from './records.repository';

/** Tencent keeps records for 7 days (docs/trtc-callbacks.md, section 6). */
const KEPT_SECONDS = 7 * 24 * 60 * 60;
/** A window is started this much inside the 7 days, so no record ages out while its pages are read. */
const AGE_MARGIN_SECONDS = 10 * 60;

/** What one pull found. */
export interface PullSummary {
  readonly sdkAppId: string;
  readonly window: RecordWindow;
  readonly pages: number;
  readonly recordsSeen: number;
  /** Calls calltrail heard of first through this pull: the ones whose callbacks it missed. */
  readonly callsNew: number;
  /** Calls calltrail already had events of (callbacks, or an earlier pull). */
  readonly callsKnown: number;
  /** Records refused (a bad field, or a value PostgreSQL cannot hold); each is reported through `onRefused`. */
  readonly recordsRefused: number;
}

export interface PullOptions {
  readonly signal?: AbortSignal;
  readonly onPage?: (progress: PullSummary & { readonly page: number; readonly lastPage: number }) => void;
  readonly onRefused?: (message: string) => void;
}

export interface BackfillDeps {
  /** A client per app of `TRTC_APPS`. */
  readonly clients: ReadonlyMap<string, Pick<RecordsClient, 'app' | 'fetchPage'>>;
  /** Ingest's writer: records take the same idempotent path as callbacks (docs/design.md, principle 3). */
  readonly writer: Pick<BatchWriter, 'writeIsolated'>;
  readonly repository: Pick<RecordsRepository, 'firstEventKeys'>;
  readonly nowSeconds?: () => number;
}

/**
 * Pulls the records of a window of call start times from Tencent's records API and stores each as
 * `CALL_RECORD` events through ingest's writer, one page per transaction, so a record and the
 * callbacks of its call fold into one call, and pulling again stores nothing new.
 */
export class BackfillService {
  constructor(private readonly deps: BackfillDeps) {}

  /** The apps that can be pulled. */
  get apps(): string[] {
    return [...this.deps.clients.keys()];
  }

  /** `since`..`until` (Unix seconds) within what Tencent still keeps: the start is moved up to it, the end back to now. */
  clampWindow(since: number, until: number): { window: RecordWindow; clamped: boolean } {
    const now = this.now();
    const oldest = now - KEPT_SECONDS + AGE_MARGIN_SECONDS;
    const window = { since: Math.max(since, oldest), until: Math.min(until, now) };
    return { window, clamped: window.since !== since };
  }

  /** Pulls every page of `window` for one app and stores its records. */
  async pull(sdkAppId: string, window: RecordWindow, options: PullOptions = {}): Promise<PullSummary> {
    const client = this.deps.clients.get(sdkAppId);
    if (!client) throw new AppError('BAD_USER_INPUT', `app: expected one of the apps in TRTC_APPS (${this.apps.join(', ') || 'none'}), got ${JSON.stringify(sdkAppId)}`, 'app');
    let summary: PullSummary = { sdkAppId, window, pages: 0, recordsSeen: 0, callsNew: 0, callsKnown: 0, recordsRefused: 0 };
    for await (const page of recordPages(client, window, options.signal)) {
      const stored = await this.storePage(client.app, page, options.onRefused);
      summary = {
        ...summary,
        pages: summary.pages + 1,
        recordsSeen: summary.recordsSeen + page.records.length,
        callsNew: summary.callsNew + stored.callsNew,
        callsKnown: summary.callsKnown + stored.callsKnown,
        recordsRefused: summary.recordsRefused + stored.refused,
      };
      options.onPage?.({ ...summary, page: page.number, lastPage: page.lastPage });
    }
    return summary;
  }

  /** Stores one page in one transaction; tells which of its calls calltrail heard of first through it. */
  private async storePage(app: { sdkAppId: string; generation: 'v1' | 'v4' }, page: NumberedPage, onRefused?: (message: string) => void) {
    const events: CallbackEvent[] = [];
    const recordOf: number[] = [];
    const refused = new Set<number>();
    const refuse = (record: number, message: string) => {
      if (!refused.has(record)) onRefused?.(`app ${app.sdkAppId}, page ${page.number}, record ${record + 1}: ${message}`);
      refused.add(record);
    };
    page.records.forEach((raw, i) => {
      try {
        for (const e of recordToEvents(app.sdkAppId, app.generation, raw)) {
          events.push(e);
          recordOf.push(i);
        }
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        refuse(i, err.message);
      }
    });
    const outcomes = events.length > 0 ? await this.deps.writer.writeIsolated(events) : [];
    const storedKeys = new Set<string>();
    outcomes.forEach((o, i) => (o instanceof AppError ? refuse(recordOf[i], o.message) : o === 'stored' && storedKeys.add(events[i].dedupeKey)));
    const callIds = [...new Set(events.filter((_, i) => !refused.has(recordOf[i])).map((e) => e.callId))];
    const first = await this.deps.repository.firstEventKeys(app.sdkAppId, callIds);
    const callsNew = callIds.filter((c) => storedKeys.has(first.get(c) ?? '')).length;
    return { callsNew, callsKnown: callIds.length - callsNew, refused: refused.size };
  }

  private now(): number {
    return this.deps.nowSeconds?.() ?? Math.floor(Date.now() / 1000);
  }
}
