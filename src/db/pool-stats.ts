import type { DataSource } from 'typeorm';
import type { Pool } from 'pg';

/** Connections of one pool right now, for metrics. */
export interface PoolStats {
  readonly inUse: number;
  readonly idle: number;
  /** Requests waiting for a connection: the pool is exhausted. */
  readonly waiting: number;
  readonly max: number;
}

/** The pg pool behind a TypeORM DataSource (its driver's `master`), or undefined while it has none. */
export function pgPool(dataSource: DataSource): Pool | undefined {
  return (dataSource.driver as unknown as { master?: Pool } | undefined)?.master;
}

/** The connections of a DataSource's pg pool (zero before it is initialised or after it is destroyed). */
export function poolStats(dataSource: DataSource): PoolStats {
  const pool = pgPool(dataSource);
  if (!dataSource.isInitialized || pool === undefined) return { inUse: 0, idle: 0, waiting: 0, max: 0 };
  return { inUse: pool.totalCount - pool.idleCount, idle: pool.idleCount, waiting: pool.waitingCount, max: pool.options.max ?? 0 };
}
