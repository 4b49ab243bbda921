import { crc32 } from './crc32';

/**
 * Every record is a 20-byte header and its payload, little-endian:
 *
 * | offset | size | field |
 * |---|---|---|
 * | 0 | 2 | magic `"CT"` (0x43 0x54) |
 * | 2 | 1 | format version, 1 |
 * | 3 | 1 | reserved, 0 |
 * | 4 | 4 | u32 CRC-32 of bytes 8 to the end of the payload (length, appendedAt, payload) |
 * | 8 | 4 | u32 payload length |
 * | 12 | 8 | f64 appendedAt, ms since the epoch |
 * | 20 | length | payload |
 */
export const HEADER_BYTES = 20;
const MAGIC_0 = 0x43;
const MAGIC_1 = 0x54;
const VERSION = 1;

/** A payload as read back from the spool. */
export interface SpooledRecord {
  readonly payload: Buffer;
  readonly appendedAt: number;
}

/** What a segment file holds: its intact records, and where the first torn or corrupt byte is. */
export interface DecodedSegment {
  readonly records: SpooledRecord[];
  /** Bytes from the start of the file up to the first record that failed its checks (the file size when none did). */
  readonly validBytes: number;
}

/** Bytes that `payloads` take on disk. */
export const encodedSize = (payloads: readonly Buffer[]): number => payloads.reduce((n, p) => n + HEADER_BYTES + p.length, 0);

/** Encodes `payloads` as consecutive records, all stamped `appendedAt`. */
export function encodeRecords(payloads: readonly Buffer[], appendedAt: number): Buffer {
  const out = Buffer.alloc(encodedSize(payloads));
  let at = 0;
  for (const payload of payloads) {
    out[at] = MAGIC_0;
    out[at + 1] = MAGIC_1;
    out[at + 2] = VERSION;
    out.writeUInt32LE(payload.length, at + 8);
    out.writeDoubleLE(appendedAt, at + 12);
    payload.copy(out, at + HEADER_BYTES);
    const end = at + HEADER_BYTES + payload.length;
    out.writeUInt32LE(crc32(out.subarray(at + 8, end)), at + 4);
    at = end;
  }
  return out;
}

/**
 * Reads records from the start of a segment file. Reading stops at the first record that is short,
 * has a wrong magic, version or reserved byte, or fails its CRC: a length cannot be trusted past a
 * bad record, so nothing after it in this file can be located safely.
 */
export function decodeRecords(file: Buffer): DecodedSegment {
  const records: SpooledRecord[] = [];
  let at = 0;
  for (let length = intactLength(file, at); length !== null; length = intactLength(file, at)) {
    const end = at + HEADER_BYTES + length;
    records.push({ payload: file.subarray(at + HEADER_BYTES, end), appendedAt: file.readDoubleLE(at + 12) });
    at = end;
  }
  return { records, validBytes: at };
}

/** The payload length of the record at `at` when it passes every check, else null. */
function intactLength(file: Buffer, at: number): number | null {
  if (file.length - at < HEADER_BYTES) return null;
  if (file[at] !== MAGIC_0 || file[at + 1] !== MAGIC_1 || file[at + 2] !== VERSION || file[at + 3] !== 0) return null;
  const length = file.readUInt32LE(at + 8);
  const end = at + HEADER_BYTES + length;
  if (end > file.length) return null;
  return crc32(file.subarray(at + 8, end)) === file.readUInt32LE(at + 4) ? length : null;
}
