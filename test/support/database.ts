import { randomBytes } from 'node:crypto';
import type { DataSource, Logger } from 'typeorm';
import { createDataSource, type Database } from '../../src/db/database';
import { adminQuery, withDatabase } from './pg-admin';

export interface TestDatabase extends Database {
  /** Drops the database. */
  drop(): Promise<void>;
}

/** A fresh database for one test file, cloned from the migrated template of the run. */
export async function openTestDatabase(logger?: Logger): Promise<TestDatabase> {
  const adminUrl = process.env.CALLTRAIL_TEST_ADMIN_URL;
  const template = process.env.CALLTRAIL_TEST_TEMPLATE;
  if (!adminUrl || !template) throw new Error('test database: expected the global setup to have run, got no admin URL');
  const name = `calltrail_t_${randomBytes(6).toString('hex')}`;
  await adminQuery(adminUrl, `CREATE DATABASE ${name} TEMPLATE ${template}`);
  const url = withDatabase(adminUrl, name);
  // Two pools, as in production: queries (their statements prepared, as DB_PREPARED_STATEMENTS defaults), and connections reserved for ingest.
  const dataSource: DataSource = createDataSource(url, { size: 10, statementTimeoutMs: 60000, name: 'calltrail', prepare: true }, logger); // tests seed large tables through it
  const ingestDataSource: DataSource = createDataSource(url, { size: 4, statementTimeoutMs: 15000, name: 'calltrail-ingest' });
  await dataSource.initialize();
  await ingestDataSource.initialize();
  const close = async () => {
    for (const ds of [dataSource, ingestDataSource]) if (ds.isInitialized) await ds.destroy();
  };
  return {
    dataSource,
    ingestDataSource,
    readDataSource: dataSource,
    replica: null,
    url,
    embedded: null,
    isReady: async () => dataSource.isInitialized,
    close,
    drop: async () => {
      await close();
      await adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

/** Empties every data table (for tests that share one database across cases). */
export async function truncateAll(ds: DataSource): Promise<void> {
  // The retention floor goes with the events: positions start again from 1.
  await ds.query('TRUNCATE call_events, call_participants, calls, rejected_callbacks, rejected_callback_counts, api_keys, event_retention_floor RESTART IDENTITY CASCADE');
}

/** A TypeORM logger that counts the SQL statements sent. */
export class CountingLogger implements Logger {
  statements = 0;
  /** The text of the latest statements (at most 50), oldest first. */
  private readonly recent: string[] = [];
  logQuery(query: string): void {
    this.statements++;
    this.recent.push(query);
    if (this.recent.length > 50) this.recent.shift();
  }
  /** The text of the statements logged since `statements` was `count` (the latest 50 at most). */
  since(count: number): string[] {
    return this.recent.slice(Math.max(0, this.recent.length - (this.statements - count)));
  }
  logQueryError(): void {}
  logQuerySlow(): void {}
  logSchemaBuild(): void {}
  logMigration(): void {}
  log(): void {}
}
