/** Query parameters whose values are secrets (compared case-insensitively, after decoding). */
const SECRET_PARAMS = new Set(['token', 'sign', 'authorization']);

/**
 * A query string with every secret value replaced by `***`. Names are decoded before they are
 * compared, so `?%74oken=…` is masked like `?token=…`; the rest is kept as sent.
 */
export function maskQueryString(queryString: string): string {
  return queryString
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = eq < 0 ? pair : pair.slice(0, eq);
      return SECRET_PARAMS.has(safeDecode(name).trim().toLowerCase()) ? `${name}=***` : pair;
    })
    .join('&');
}

/** A URL (path and query) with its secrets masked, for logs. */
export function maskUrl(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : `${url.slice(0, q)}?${maskQueryString(url.slice(q + 1))}`;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}
