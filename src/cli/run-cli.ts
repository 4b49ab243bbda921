import 'reflect-metadata';
import { loadConfig, type Config } from '../config';
import { openDatabase, type Database } from '../db/database';

/**
 * The one way a command opens the database: the configured server or the embedded one (shared
 * with a running `npm start`), migrated unless `migrate` is false. Runs `work` (with the
 * configuration), closes the database, and turns a thrown error into its message on stderr and exit code 1.
 */
export function runCli(work: (db: Database, config: Config) => Promise<void>, options: { migrate: boolean } = { migrate: true }): void {
  const run = async () => {
    const config = loadConfig();
    // Commands read and write the primary only: a replica (DATABASE_READ_URL) is for the server's queries.
    const db = await openDatabase({ ...config, databaseReadUrl: null }, undefined, options);
    try {
      await work(db, config);
    } finally {
      await db.close();
    }
  };
  run().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
