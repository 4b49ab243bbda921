/** At most one log line per interval for errors that repeat through an outage (docs/reliability.md). */
export const OUTAGE_LOG_MS = 10_000;

/** A logger method: pino's `(object, message)`. */
type LogFn = (obj: object, msg: string) => void;

/**
 * Logs the first error at once, then at most one line per `intervalMs` carrying how many were
 * left out since: an outage of 30 s at 200 callbacks/s writes a few lines, not thousands of stacks.
 */
export function throttledLog(log: LogFn, intervalMs: number, now: () => number = Date.now) {
  let last = -Infinity;
  let suppressed = 0;
  return (obj: object, msg: string): void => {
    const t = now();
    if (t - last < intervalMs) {
      suppressed++;
      return;
    }
    log(suppressed > 0 ? { ...obj, suppressed } : obj, msg);
    last = t;
    suppressed = 0;
  };
}
