import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import type { DataSource, Logger } from 'typeorm';
import { createDataSource, ensureDatabase, runMigrations } from '../src/db/database';
import { startEmbeddedPostgres } from '../src/db/embedded';

/** Runs `bench` against DATABASE_URL, or an embedded PostgreSQL in a temporary folder. */
export async function withPostgres(bench: (adminUrl: string, where: string) => Promise<void>): Promise<void> {
  if (process.env.DATABASE_URL) return bench(process.env.DATABASE_URL, 'PostgreSQL at DATABASE_URL');
  const dir = await mkdtemp(join(tmpdir(), 'calltrail-bench-'));
  await chmod(dir, 0o755); // the embedded server runs as the postgres user when we are root
  const pg = await startEmbeddedPostgres(dir);
  try {
    await bench(pg.url, 'embedded PostgreSQL');
  } finally {
    await pg.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** A fresh, migrated, empty database named `name` on the server of `adminUrl`. */
export async function freshDatabase(adminUrl: string, name: string, logger?: Logger): Promise<{ url: string; dataSource: DataSource; drop(): Promise<void> }> {
  await ensureDatabase(adminUrl, name);
  const url = adminUrl.replace(/\/[^/]*$/, `/${name}`);
  const dataSource = createDataSource(url, { size: 10, statementTimeoutMs: 15000, name: 'calltrail-bench' }, logger);
  await dataSource.initialize();
  await runMigrations(dataSource, url);
  await dataSource.query('TRUNCATE call_events, calls, call_participants, rejected_callbacks, rejected_callback_counts, api_keys RESTART IDENTITY CASCADE');
  // Closes the pool and drops the database: a bench leaves nothing behind on a shared server.
  const drop = async () => {
    if (dataSource.isInitialized) await dataSource.destroy();
    const admin = new Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).finally(() => admin.end());
  };
  return { url, dataSource, drop };
}

/** Exits 0 when `main` resolves, 1 (with the error) when it rejects. */
export function run(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
