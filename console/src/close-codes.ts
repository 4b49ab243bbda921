/** What the console does when its WebSocket closes (close codes: docs/api.md, Subscriptions). */
export type CloseAction = { readonly retry: true; readonly message: string } | { readonly retry: false; readonly message: string };

const RETRY_MESSAGES: Readonly<Record<number, string>> = {
  1001: 'the server is restarting',
  1006: 'the connection was lost',
  1013: 'the server could not check the key just now',
  4290: 'the console fell behind',
  4408: 'the connection was too slow to start',
};

/**
 * Decides from a close code: a refused key stops (retrying cannot help), a request the server will
 * never take stops, anything else (restarts, lost networks, slow consumers) is retried.
 * `code` is null when the socket failed without a close frame.
 */
export function closeAction(code: number | null, reason = ''): CloseAction {
  if (code === 4401 || code === 4403) return { retry: false, message: 'The API key was refused (unknown or revoked). Enter a valid key.' };
  if (code === 4400 || code === 1009 || code === 4406 || code === 4409 || code === 4429) {
    return { retry: false, message: `The server refused the console's request (code ${code}${reason ? `: ${reason}` : ''}).` };
  }
  const why = code === null ? 'the server cannot be reached' : (RETRY_MESSAGES[code] ?? `the connection closed (code ${code})`);
  return { retry: true, message: why };
}

/** Delay before reconnect attempt `attempt` (1, 2, …): doubling from 500 ms up to 5 s, with jitter so consoles do not return all at once. */
export function backoffMs(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(5000, 500 * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling * (0.5 + random() / 2));
}
