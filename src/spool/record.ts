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

/** What a segment file holds: its intact records, and what could not be read. */
export interface DecodedSegment {
  readonly records: SpooledRecord[];
  /** Bytes from the start of the file up to the end of the last intact record. */
  readonly validBytes: number;
  /**
   * Bytes skipped between intact records: damage to bytes that were once acknowledged (a torn
   * append can only be at the end). The records after the damage are found again and returned.
   */
  readonly corruptBytes: number;
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
 * Reads records from the start of a segment file. A record that is short, has a wrong magic,
 * version or reserved byte, or fails its CRC is bad; reading goes on at the next offset where an
 * intact record starts (payloads are JSON, which never holds the header's raw 0x01 and 0x00 bytes, so
 * a record cannot be faked inside one). Bad bytes with no intact record after them are a torn tail.
 */
export function decodeRecords(file: Buffer): DecodedSegment {
  const records: SpooledRecord[] = [];
  let at = 0;
  let validBytes = 0;
  let corruptBytes = 0;
  while (at < file.length) {
    let length = intactLength(file, at);
    if (length === null) {
      const next = nextIntact(file, at + 1);
      if (next === null) break;
      corruptBytes += next - at;
      at = next;
      length = intactLength(file, at)!;
    }
    const end = at + HEADER_BYTES + length;
    records.push({ payload: file.subarray(at + HEADER_BYTES, end), appendedAt: file.readDoubleLE(at + 12) });
    at = end;
    validBytes = end;
  }
  return { records, validBytes, corruptBytes };
}

/** The first offset from `from` on where an intact record starts, or null. */
function nextIntact(file: Buffer, from: number): number | null {
  for (let at = file.indexOf(MAGIC_0, from); at !== -1; at = file.indexOf(MAGIC_0, at + 1)) {
    if (intactLength(file, at) !== null) return at;
  }
  return null;
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
