/** Stable codes of expected failures; each transport maps them once (HTTP reply, GraphQL, WebSocket). */
export type AppErrorCode =
  | 'INVALID_JSON'
  | 'INVALID_FIELD'
  | 'UNSUPPORTED_CALLBACK'
  | 'UNKNOWN_APP'
  | 'BAD_TOKEN'
  | 'BAD_SIGNATURE'
  | 'BODY_TOO_LARGE'
  | 'UNSUPPORTED_ENCODING'
  | 'CALL_TOO_LARGE'
  | 'EVENT_EXPIRED'
  | 'EVENT_AHEAD'
  | 'CURSOR_EXPIRED'
  | 'UNAVAILABLE'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'BAD_USER_INPUT';

/** An expected failure, with a message that names the field, what was expected and what arrived. */
export class AppError extends Error {
  constructor(
    readonly code: AppErrorCode,
    message: string,
    readonly field: string | null = null,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

/** Renders a received value for an error message: short, JSON-ish, `nothing` when absent. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** `field: expected X, got Y`: the one shape of every validation message. */
export function fieldError(code: AppErrorCode, field: string, expected: string, got: unknown): AppError {
  return new AppError(code, `${field}: expected ${expected}, got ${describeValue(got)}`, field);
}
