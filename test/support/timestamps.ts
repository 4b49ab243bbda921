/**
 * A timestamptz as PostgreSQL writes it in a UTC session: the instant `ms` with `micros` more,
 * trailing zeros of the fraction dropped (`2024-01-08 06:32:46.1234+00`), then `offset`.
 */
export function pgTimestampText(ms: number, micros: number, offset = '+00'): string {
  const iso = new Date(ms).toISOString(); // 2024-01-08T06:32:46.123Z
  const fraction = (iso.slice(20, 23) + String(micros).padStart(3, '0')).replace(/0+$/, '');
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${fraction ? `.${fraction}` : ''}${offset}`;
}
