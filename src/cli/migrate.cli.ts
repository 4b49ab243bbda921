import { migrate } from '../db/database';
import { runCli } from './run-cli';

/** `npm run migrate` (apply pending migrations) and `npm run migrate:revert` (revert the last one). */
const command = process.argv[2];
runCli(
  async (db) => {
    if (command === 'up') {
      await migrate(db.url);
      console.log('migrations applied');
    } else if (command === 'revert') {
      await db.dataSource.undoLastMigration({ transaction: 'each' });
      console.log('last migration reverted');
    } else {
      throw new Error(`command: expected "up" or "revert", got ${JSON.stringify(command)}`);
    }
  },
  { migrate: false },
);
