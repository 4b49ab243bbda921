import { maskQueryString } from '../domain/secrets';
import { MAX_COUNTED_SOURCES, OTHER_SOURCE, type QuarantineRepository, type RefusalCount } from './quarantine.repository';

/** A refused request, as ingest hands it over. */
export interface Refusal {
  readonly reason: string;
  readonly errorCode: string;
  readonly sdkAppId: string | null;
  readonly queryString: string;
  /** The body as read (up to 64 KiB); `bodyBytes` is its size as sent. */
  readonly body: Buffer;
  readonly bodyBytes: number;
  readonly source: string;
  /** True when the request passed the URL checks (app, token, signature): only its body was refused. */
  readonly proven: boolean;
  /** Kept whole whatever the bounds: a callback already answered 200 (from the outage spool). */
  readonly acknowledged?: boolean;
  /**
   * True when its `token` and `Sign` (those configured) were valid, whatever else was refused; they
   * are masked when kept, so this is what lets a replay trust it. Default: `proven`.
   */
  readonly credentialsOk?: boolean;
}

export interface QuarantineOptions {
  readonly maxBytes: number;
  readonly ratePerMinute: number;
  readonly retentionDays: number;
  readonly now?: () => number;
  /** Called with what was done with each refusal, for metrics. */
  readonly onKeep?: (kept: 'kept' | 'counted') => void;
}

/** Longest query string kept; Tencent's are far shorter. */
const MAX_QUERY_CHARS = 2048;
const MAX_REASON_CHARS = 1000;
/** How long a measured quarantine size is trusted before it is measured again. */
const SIZE_TTL_MS = 10_000;
/** Most sources whose rate is tracked at once; past it, unknown sources count as over their rate. */
const MAX_SOURCES = 10_000;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decides what is kept of a refusal (docs/security.md, "Quarantine flood"). Kept whole, so it can
 * be replayed after a configuration fix: a request that passed the URL checks, and one that looks
 * like a TRTC callback while its source stays within `ratePerMinute`, while the quarantine is
 * under `maxBytes`. Everything else is only counted, per day, code and source, flushed in batches;
 * past MAX_COUNTED_SOURCES sources of a code, in memory as in the table, under OTHER_SOURCE.
 */
export class QuarantineService {
  private readonly counts = new Map<string, RefusalCount>();
  /** Distinct sources of each code in `counts`, for the MAX_COUNTED_SOURCES bound. */
  private readonly sources = new Map<string, number>();
  private readonly rates = new Map<string, number>();
  private rateWindow = -1;
  private size = { bytes: 0, at: -Infinity };
  private timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly repository: QuarantineRepository,
    private readonly options: QuarantineOptions,
  ) {}

  /** Keeps or counts a refusal; throws only when a refusal to keep whole cannot be written. */
  async keep(r: Refusal): Promise<'kept' | 'counted'> {
    const keepWhole = r.acknowledged === true || ((r.proven || (looksLikeCallback(r.body) && this.withinRate(r.source))) && (await this.hasRoom()));
    if (!keepWhole) {
      this.count(r);
      this.options.onKeep?.('counted');
      return 'counted';
    }
    const text = storableText(r.body);
    await this.repository.record({
      reason: escapeControls(r.reason).slice(0, MAX_REASON_CHARS),
      errorCode: r.errorCode,
      sdkAppId: r.sdkAppId,
      queryString: maskQueryString(r.queryString).slice(0, MAX_QUERY_CHARS),
      rawBody: text ?? r.body.toString('base64'),
      bodyEncoding: text === null ? 'base64' : 'utf8',
      bodyBytes: r.bodyBytes,
      source: r.source,
      credentialsOk: r.credentialsOk ?? r.proven,
    });
    // Counted until the next measurement, so a burst within SIZE_TTL_MS cannot overshoot the bound.
    this.size.bytes += r.body.length + r.queryString.length;
    this.options.onKeep?.('kept');
    return 'kept';
  }

  /** Flushes counts every `flushMs` and applies retention every `purgeMs`. */
  start(flushMs = 10_000, purgeMs = 3_600_000, onError: (err: unknown) => void = () => undefined): void {
    const every = (ms: number, work: () => Promise<unknown>) => {
      const timer = setInterval(() => void work().catch(onError), ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(flushMs, () => this.flushCounts());
    every(purgeMs, () => this.repository.purgeOlderThan(this.options.retentionDays));
    void this.repository.purgeOlderThan(this.options.retentionDays).catch(onError);
  }

  /** Writes the counts gathered so far; on failure they are kept for the next flush. */
  async flushCounts(): Promise<void> {
    const rows = [...this.counts.values()];
    this.counts.clear();
    this.sources.clear();
    try {
      await this.repository.addCounts(rows);
    } catch (err) {
      for (const row of rows) this.add(row);
      throw err;
    }
  }

  /** Counts waiting for the next flush (for tests and metrics): at most MAX_COUNTED_SOURCES + 1 per code. */
  get pendingCounts(): number {
    return this.counts.size;
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    await this.flushCounts().catch(() => undefined);
  }

  private count(r: Refusal): void {
    this.add({ errorCode: r.errorCode, source: r.source, times: 1, bytes: r.bodyBytes });
  }

  /** Adds to the row of the code and source, or of OTHER_SOURCE once the code has MAX_COUNTED_SOURCES (also while the database is down). */
  private add(count: RefusalCount): void {
    let row = count;
    if (!this.counts.has(countKey(row)) && row.source !== OTHER_SOURCE) {
      const n = this.sources.get(row.errorCode) ?? 0;
      if (n < MAX_COUNTED_SOURCES) this.sources.set(row.errorCode, n + 1);
      else row = { ...row, source: OTHER_SOURCE };
    }
    const seen = this.counts.get(countKey(row));
    this.counts.set(countKey(row), seen ? { ...seen, times: seen.times + row.times, bytes: seen.bytes + row.bytes } : row);
  }

  private withinRate(source: string): boolean {
    const window = Math.floor((this.options.now ?? Date.now)() / 60_000);
    if (window !== this.rateWindow) {
      this.rates.clear();
      this.rateWindow = window;
    }
    const n = this.rates.get(source) ?? 0;
    if (n === 0 && this.rates.size >= MAX_SOURCES) return false;
    this.rates.set(source, n + 1);
    return n < this.options.ratePerMinute;
  }

  private async hasRoom(): Promise<boolean> {
    const now = (this.options.now ?? Date.now)();
    if (now - this.size.at > SIZE_TTL_MS) this.size = { bytes: await this.repository.sizeBytes(), at: now };
    return this.size.bytes < this.options.maxBytes;
  }
}

const countKey = (row: RefusalCount) => `${row.errorCode}\n${row.source}`;

/** True when the body is a JSON object naming a call (v1 `CallId`) or a v4 `CallbackCommand`. */
function looksLikeCallback(body: Buffer): boolean {
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
    const v = value as Record<string, unknown>;
    return ['string', 'number'].includes(typeof v.CallId) || typeof v.CallbackCommand === 'string';
  } catch {
    return false;
  }
}

/** The body as text when PostgreSQL can store it as sent (valid UTF-8, no NUL); else null. */
function storableText(body: Buffer): string | null {
  if (body.includes(0)) return null;
  try {
    return utf8.decode(body);
  } catch {
    return null;
  }
}

/** Control characters (NUL included, which PostgreSQL text cannot hold) written as `\uXXXX`. */
// eslint-disable-next-line no-control-regex -- these are exactly what is escaped
const escapeControls = (text: string): string => text.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
