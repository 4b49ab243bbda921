/** Query parameters whose values are secrets (compared case-insensitively, after decoding). */
const SECRET_PARAMS = new Set(['token', 'sign', 'authorization']);

/**
 * A query string with every secret value replaced by `***`. Names are decoded before they are
 * compared, so `?%74oken=…` is masked like `?token=…`; `;` separates parameters as `&` does (some
 * clients and proxies write it so), so `?x=1;token=…` is masked too; the rest is kept as sent.
 */
export function maskQueryString(queryString: string): string {
  return queryString
    .split(/([&;])/)
    .map((part, i) => (i % 2 === 1 ? part : maskPair(part)))
    .join('');
}

/**
 * A query parameter's value as parsed with `&` alone (so `x=1;token=…` gives x the value `1;token=…`),
 * with the secrets after a `;` inside it masked: values are echoed in error messages and stored in
 * fields. A secret parameter's own value is left whole, for the check that compares it and never prints it.
 */
export function maskQueryValue(name: string, value: string): string {
  return SECRET_PARAMS.has(name.trim().toLowerCase()) || !value.includes(';') ? value : maskQueryString(value);
}

/** A URL (path and query) with its secrets masked, for logs. */
export function maskUrl(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : `${url.slice(0, q)}?${maskQueryString(url.slice(q + 1))}`;
}

function maskPair(pair: string): string {
  const eq = pair.indexOf('=');
  const name = eq < 0 ? pair : pair.slice(0, eq);
  return SECRET_PARAMS.has(safeDecode(name).trim().toLowerCase()) ? `${name}=***` : pair;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}
