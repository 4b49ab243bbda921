import { z } from 'zod';
import { fieldError } from '../domain/app-error';

/**
 * Field shapes shared by the v1 and v4 parsers (docs/trtc-callbacks.md, sections 2 and 5): every bound
 * here keeps a value inside its column and indexes, so PostgreSQL never has to refuse a row.
 */

/** Integers arrive as numbers or numeric strings. */
export const integer = z.union([z.number().int(), z.string().trim().regex(/^-?\d+$/).transform(Number)]);

/** Seconds from 2001 to 2060: every call time fits, and so does any difference of two (int4). */
const EARLIEST = 978_307_200;
const LATEST = 2_840_140_800;
/** Milliseconds (v4's `EventTime`) are scaled to whole seconds, like every stored time. */
const toSeconds = (n: number) => (n >= 1e11 ? Math.floor(n / 1000) : n);
export const time = integer.transform(toSeconds).pipe(z.number().min(EARLIEST).max(LATEST));
/** 0, empty or missing means unknown. */
export const optionalTime = z.union([z.literal(0), z.literal('0'), z.literal(''), z.null(), time]).optional();
export const text = z.union([z.string(), z.number().transform(String)]);
/** Ids are indexed: bounded well below PostgreSQL's index row limit. */
export const id = text.pipe(z.string().trim().min(1).max(256));
export const optionalText = (max: number) => z.union([text.pipe(z.string().max(max)), z.null()]).optional();
export const optionalCount = z.union([integer.pipe(z.number().min(0).max(100_000)), z.literal(''), z.null()]).optional();

/** A parsed optional time: 0, empty or missing is unknown (`null`). */
export const seconds = (value: number | string | null | undefined): number | null => (typeof value === 'number' && value > 0 ? value : null);

/** Empty or missing text is unknown (`null`). */
export const blank = (v: string | null | undefined): string | null => (v === null || v === undefined || v.trim() === '' ? null : v);

/** Refuses a query parameter longer than 256 characters: it is stored, and shown in errors. */
export function checkQueryLengths(query: Readonly<Record<string, string | undefined>>, names: readonly string[]): void {
  for (const name of names) {
    const value = query[name];
    if (value !== undefined && value.length > 256) throw fieldError('INVALID_FIELD', name, 'a query parameter of at most 256 characters', value);
  }
}
