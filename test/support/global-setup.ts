import { chmod, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDataSource, runMigrations } from '../../src/db/database';
import { startEmbeddedPostgres, type EmbeddedServer } from '../../src/db/embedded';
import { adminQuery, withDatabase } from './pg-admin';

declare global {
  var __calltrailEmbedded: EmbeddedServer | undefined;
  /** The temporary folder of the embedded server, removed by the global teardown. */
  var __calltrailEmbeddedDir: string | undefined;
}

/**
 * One PostgreSQL for the whole run: `DATABASE_URL` when set, otherwise an embedded server in a
 * temporary folder. The real migrations build a template database; each test file clones it.
 */
export default async function setup(): Promise<void> {
  let adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    const dir = await mkdtemp(join(tmpdir(), 'calltrail-test-'));
    globalThis.__calltrailEmbeddedDir = dir;
    await chmod(dir, 0o755); // the embedded server runs as the postgres user when we are root
    globalThis.__calltrailEmbedded = await startEmbeddedPostgres(dir);
    adminUrl = globalThis.__calltrailEmbedded.url;
  }
  const template = `calltrail_tpl_${process.pid}`;
  await adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${template}`);
  await adminQuery(adminUrl, `CREATE DATABASE ${template}`);
  const url = withDatabase(adminUrl, template);
  const ds = createDataSource(url, { size: 2, statementTimeoutMs: 0, name: 'calltrail-test' });
  await ds.initialize();
  await runMigrations(ds, url);
  await ds.destroy();
  process.env.CALLTRAIL_TEST_ADMIN_URL = adminUrl;
  process.env.CALLTRAIL_TEST_TEMPLATE = template;
}
