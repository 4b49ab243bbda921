import 'reflect-metadata';
import { loadConfig } from '../config';
import { openDatabase, runMigrations } from './database';

/** `npm run migrate` (apply pending migrations) and `npm run migrate:revert` (revert the last one). */
async function main(command: string | undefined): Promise<void> {
  if (command !== 'up' && command !== 'revert') throw new Error(`command: expected "up" or "revert", got ${JSON.stringify(command)}`);
  const db = await openDatabase(loadConfig(), undefined, { migrate: false });
  try {
    if (command === 'up') {
      await runMigrations(db.dataSource, db.url);
      console.log('migrations applied');
    } else {
      await db.dataSource.undoLastMigration({ transaction: 'each' });
      console.log('last migration reverted');
    }
  } finally {
    await db.close();
  }
}

main(process.argv[2]).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
