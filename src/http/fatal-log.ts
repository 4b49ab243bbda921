import { hostname } from 'node:os';

/** pino's number for `fatal`, so the line reads like the app's own (`level` 60). */
const FATAL = 60;

/**
 * The one JSON line (pino's shape) of an error that stops the process before its logger exists, or
 * outside it: a configuration refused, a SPOOL_DIR held by another process, the database refusing
 * migrations. The stack is a field, not lines of its own, so log collectors keep it with its message.
 */
export function fatalLine(err: unknown, msg: string, now: () => number = Date.now): string {
  const line = { level: FATAL, time: now(), pid: process.pid, hostname: hostname(), msg };
  try {
    return JSON.stringify({ ...line, err: errorFields(err) });
  } catch {
    // An own field that JSON cannot hold (a cycle, a BigInt): type, message and stack still go out.
    return JSON.stringify({ ...line, err: { type: (err as Error).name, message: (err as Error).message, stack: (err as Error).stack } });
  }
}

/** What pino's `err` serializer keeps: type, message, stack, and the error's own fields (`code`, `problems`). */
function errorFields(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { type: typeof err, message: String(err) };
  return { ...Object.fromEntries(Object.entries(err)), type: err.name, message: err.message, stack: err.stack };
}
