import 'reflect-metadata';
import { loadConfig } from '../config';
import { openDatabase, type Database } from '../db/database';

/**
 * The one way a command opens the database: the configured server or the embedded one (shared
 * with a running `npm start`), migrated unless `migrate` is false. Runs `work`, closes the
 * database, and turns a thrown error into its message on stderr and exit code 1.
 */
export function runCli(work: (db: Database) => Promise<void>, options: { migrate: boolean } = { migrate: true }): void {
  const run = async () => {
    const db = await openDatabase(loadConfig(), undefined, options);
    try {
      await work(db);
    } finally {
      await db.close();
    }
  };
  run().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
