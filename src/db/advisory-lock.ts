import { QuietClient } from './quiet-client';

/**
 * Serialises every writer of `call_events`, across processes: positions are taken under this
 * transaction-level lock, so they increase in commit order (docs/design.md, principle 5). Creating a
 * partition takes it too, so no insert is routed by the partitions as they were before it.
 */
export const POSITION_LOCK = 0x63616c6c; // "call"

/**
 * Runs `work` while holding a session-level advisory lock on a connection of its own, or not at all
 * when another session holds it. The connection is closed afterwards, which releases the lock, also
 * when `work` failed; if the connection is lost meanwhile, PostgreSQL releases it too (another
 * process may then start the same work: it must be idempotent).
 */
export async function withSessionLock<T>(url: string, key: number, work: () => Promise<T>): Promise<{ acquired: true; value: T } | { acquired: false }> {
  const client = new QuietClient({ connectionString: url, connectionTimeoutMillis: 5000, application_name: 'calltrail-lock' });
  await client.connect();
  try {
    const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [key]);
    if (!rows[0].locked) return { acquired: false };
    return { acquired: true, value: await work() };
  } finally {
    await client.end().catch(() => undefined);
  }
}
