import { AppError } from './app-error';

/** Opaque cursor: base64url of `kind` and the keyset values of a row. */
export function encodeCursor(kind: string, values: readonly string[]): string {
  return Buffer.from(JSON.stringify([kind, ...values])).toString('base64url');
}

/** Decodes a cursor of `kind` with `arity` values; a malformed one is a BAD_USER_INPUT naming `field`. */
export function decodeCursor(field: string, kind: string, arity: number, cursor: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = null;
  }
  if (
    !Array.isArray(parsed) ||
    parsed[0] !== kind ||
    parsed.length !== arity + 1 ||
    !parsed.every((v) => typeof v === 'string')
  ) {
    const shown = cursor.length > 40 ? `${cursor.slice(0, 37)}...` : cursor;
    const article = /^[aeiou]/.test(kind) ? 'an' : 'a';
    throw new AppError('BAD_USER_INPUT', `${field}: expected ${article} ${kind} cursor from this API, got "${shown}"`, field);
  }
  return parsed.slice(1) as string[];
}

/** The cursor of an event: its commit-ordered position. Shared by queries and subscriptions. */
export const eventCursor = (position: string): string => encodeCursor('event', [position]);

/** The position inside an event cursor. */
export function eventPosition(field: string, cursor: string): string {
  const [position] = decodeCursor(field, 'event', 1, cursor);
  if (!isBigint(position)) throw new AppError('BAD_USER_INPUT', `${field}: expected an event cursor, got "${cursor}"`, field);
  return position;
}

const MAX_BIGINT = 9223372036854775807n;

/** True for a non-negative integer that fits PostgreSQL's bigint. */
export const isBigint = (text: string): boolean => /^\d{1,19}$/.test(text) && BigInt(text) <= MAX_BIGINT;
