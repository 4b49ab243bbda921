import { types } from 'pg';

/** pg's own parser of a timestamptz's text (postgres-date): the reference, and the path for every text the fast one does not take. */
const parseAnyTimestamptz = types.getTypeParser(types.builtins.TIMESTAMPTZ, 'text') as (text: string) => Date | number | null;

/** Two decimal digits of `text` at `at`, or NaN when either is not a digit. */
function twoDigits(text: string, at: number): number {
  const hi = text.charCodeAt(at) - 48;
  const lo = text.charCodeAt(at + 1) - 48;
  return hi >= 0 && hi <= 9 && lo >= 0 && lo <= 9 ? hi * 10 + lo : NaN;
}

/** 'YYYY-MM-DD HH:MM:SS' at the start of `text`, by its separators (PostgreSQL's DateStyle ISO). */
function isoSeparators(text: string): boolean {
  return (
    text.charCodeAt(4) === 45 /* - */ &&
    text.charCodeAt(7) === 45 &&
    text.charCodeAt(10) === 32 /* space */ &&
    text.charCodeAt(13) === 58 /* : */ &&
    text.charCodeAt(16) === 58
  );
}

/**
 * A timestamptz's text as PostgreSQL writes it in a UTC session (`2024-01-08 06:32:46.123456+00`,
 * DateStyle ISO), read without a regular expression: the same `Date` as pg's parser gives, to the
 * millisecond (digits beyond it are dropped, as pg's parser drops them). Any other text (another
 * offset, a year before 1000 or after 9999, BC, infinity) goes to pg's parser. A page of 50 calls
 * parses about a hundred of these; pg's parser was 5.7% of such a read's CPU (docs/benchmarks.md).
 */
export function parseTimestamptz(text: string): Date | number | null {
  const n = text.length;
  // 'YYYY-MM-DD HH:MM:SS' (19), an optional '.f' to '.ffffff', then '+00'.
  if (
    n < 22 ||
    n > 29 ||
    n === 23 ||
    text.charCodeAt(n - 3) !== 43 /* + */ ||
    text.charCodeAt(n - 2) !== 48 ||
    text.charCodeAt(n - 1) !== 48 ||
    !isoSeparators(text) ||
    (n > 22 && text.charCodeAt(19) !== 46) /* . */
  ) {
    return parseAnyTimestamptz(text);
  }
  const century = twoDigits(text, 0);
  let ms = 0;
  let scale = 100;
  for (let i = 20; i < n - 3; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return parseAnyTimestamptz(text);
    ms += digit * scale;
    scale /= 10;
  }
  const time = Date.UTC(
    century * 100 + twoDigits(text, 2),
    twoDigits(text, 5) - 1,
    twoDigits(text, 8),
    twoDigits(text, 11),
    twoDigits(text, 14),
    twoDigits(text, 17),
    Math.floor(ms),
  );
  // NaN: a non-digit; a century below 10 is a year Date.UTC would read as 19xx.
  if (Number.isNaN(time) || century < 10) return parseAnyTimestamptz(text);
  return new Date(time);
}

/** A timestamp's text that {@link isoFromUtcText} does not take: the read that met it goes the usual way. */
export class TimestampTextError extends Error {
  constructor(text: string) {
    super(`timestamp text: expected 'YYYY-MM-DD HH:MM:SS[.ffffff]' (UTC, DateStyle ISO), got "${text}"`);
  }
}

/** The places of digits in 'YYYY-MM-DD HH:MM:SS' and every place after its '.'. */
const DIGITS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18];

/** True when every place of a digit in `text` (of length `n`, separators checked) holds one: ' BC' after a fraction does not. */
function digitsAt(text: string, n: number): boolean {
  for (const i of DIGITS) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
  }
  for (let i = 20; i < n; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
  }
  return true;
}

/**
 * The API's text of a timestamp (`2024-01-08T06:32:46.123Z`, as `Date.toISOString()` writes the value
 * pg's parser gives) from the text `utcText` selects (`2024-01-08 06:32:46.123456`): digits beyond the
 * millisecond are dropped, as pg's parser drops them; null stays null. PostgreSQL writes that text for
 * about a third of what `to_char` costs it (docs/benchmarks.md). Any other text (a year after 9999, BC,
 * infinity, a DateStyle other than ISO) throws a {@link TimestampTextError}.
 */
export function isoFromUtcText(text: string | null): string | null {
  if (text === null) return null;
  const n = typeof text === 'string' ? text.length : 0;
  if (n < 19 || n > 26 || n === 20 || !isoSeparators(text) || (n > 19 && text.charCodeAt(19) !== 46) /* . */ || !digitsAt(text, n)) {
    throw new TimestampTextError(String(text));
  }
  const fraction = n === 19 ? '000' : n === 21 ? `${text[20]}00` : n === 22 ? `${text.slice(20, 22)}0` : text.slice(20, 23);
  return `${text.slice(0, 10)}T${text.slice(11, 19)}.${fraction}Z`;
}

/** The type parsers of calltrail's pools: pg's own, but {@link parseTimestamptz} for timestamptz text. */
export const PG_TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === types.builtins.TIMESTAMPTZ && format !== 'binary' ? parseTimestamptz : types.getTypeParser(oid, format)) as typeof types.getTypeParser,
};
