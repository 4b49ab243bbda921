/** Label value of an operation that has no name. */
export const ANONYMOUS = 'anonymous';
/** Label value of a request whose operation never resolved (a parse or validation error, no key). */
export const UNKNOWN = 'unknown';
/** Label value of every name past the cap. */
export const OTHER = 'other';

/** Longest label value kept; longer names count as `other`. */
const MAX_LENGTH = 100;

/**
 * Bounds the values a label may take, so a client cannot grow the metrics without limit by sending
 * new operation names: the first `max` distinct values are kept, every later one becomes `other`.
 * A missing or empty value becomes `fallback`.
 */
export class BoundedLabel {
  private readonly seen = new Set<string>();

  constructor(
    readonly max: number,
    private readonly fallback: string = ANONYMOUS,
  ) {}

  value(raw: string | null | undefined): string {
    if (raw === null || raw === undefined || raw === '') return this.fallback;
    if (this.seen.has(raw)) return raw;
    if (this.seen.size >= this.max || raw.length > MAX_LENGTH) return OTHER;
    this.seen.add(raw);
    return raw;
  }
}
