/** An integer literal of 16 or more digits may be beyond 2^53; shorter ones never are. */
const LONG_DIGITS = /\d{16}/;
const NUMBER = /-?\d+(\.\d+)?([eE][+-]?\d+)?/y;

/** True when the JSON text may hold an integer a JS number cannot hold exactly. */
export const mayHoldLargeIntegers = (json: string): boolean => LONG_DIGITS.test(json);

/**
 * Rewrites each integer literal beyond ±2^53 of a JSON text as a JSON string of its digits, so that
 * `JSON.parse` keeps it exactly instead of rounding it. Tencent sends numeric user ids such as
 * 144115212830834855 (docs/trtc-callbacks.md, section 5), which would otherwise become
 * 144115212830834850: another user. Strings, fractions, exponents and smaller integers are left as
 * written. Meant for text that already parsed as JSON.
 */
export function quoteLargeIntegers(json: string): string {
  let out = '';
  let copied = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const ch = json[i];
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') inString = true;
    if (ch !== '-' && (ch < '0' || ch > '9')) continue;
    NUMBER.lastIndex = i;
    const [literal, fraction, exponent] = NUMBER.exec(json) ?? [ch];
    if (fraction === undefined && exponent === undefined && !Number.isSafeInteger(Number(literal))) {
      out += `${json.slice(copied, i)}"${literal}"`;
      copied = i + literal.length;
    }
    i += literal.length - 1;
  }
  return copied === 0 ? json : out + json.slice(copied);
}
