import * as zlib from 'node:zlib';

let table: Uint32Array | undefined;

/**
 * CRC-32 as zlib and gzip compute it. `package.json` allows any Node 20, and `zlib.crc32` arrived
 * in 20.15, so older runtimes get the same sum from a table instead of failing to open the spool.
 */
export const crc32: (data: Uint8Array) => number = typeof zlib.crc32 === 'function' ? (data) => zlib.crc32(data) : tableCrc32;

/** The table-driven CRC-32 used when `zlib.crc32` is missing; exported so a test can hold it to zlib's. */
export function tableCrc32(data: Uint8Array): number {
  table ??= makeTable();
  let crc = 0xffffffff;
  for (const byte of data) crc = table[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function makeTable(): Uint32Array {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
}
