import { join } from 'node:path';
import { z } from 'zod';
import type { PartitionInterval } from './domain/partition-ranges';
import { parseTrtcApps, type TrtcAppConfig } from './trtc-apps.config';

/** Parsed, frozen configuration. The only reader of `process.env` in calltrail. */
export interface Config {
  /** HTTP port (`PORT`, default 8080; 0 picks a free port). */
  readonly port: number;
  /** Interface to bind (`HOST`, default `0.0.0.0`). */
  readonly host: string;
  /** PostgreSQL URL (`DATABASE_URL`); `null` starts an embedded PostgreSQL in `dataDir`. */
  readonly databaseUrl: string | null;
  /**
   * PostgreSQL read replica that GraphQL queries (calls, participants, events, callStats, the quarantine
   * listing) read (`DATABASE_READ_URL`); `null`: they read `DATABASE_URL`. Ingest, API keys, subscriptions
   * and their resume stay on `DATABASE_URL` (docs/scaling.md, "Read replicas"). Needs `DATABASE_URL`.
   */
  readonly databaseReadUrl: string | null;
  /** Connections to the read replica per process (`DB_READ_POOL_SIZE`, default `DB_POOL_SIZE`). */
  readonly dbReadPoolSize: number;
  /** Whether queries read the primary while the replica cannot be reached (`DATABASE_READ_FAILOVER`, `on` or `off`, default `on`). */
  readonly databaseReadFailover: boolean;
  /** Folder of the embedded PostgreSQL cluster (`DATA_DIR`, default `./.calltrail`). */
  readonly dataDir: string;
  /** Port of the embedded PostgreSQL (`EMBEDDED_PG_PORT`, default: a free port). */
  readonly embeddedPgPort: number | null;
  /** Accepted SDKAppIDs (`SDKAPPIDS`, comma list); `null` accepts any app (refused in production). */
  readonly sdkAppIds: readonly string[] | null;
  /** Path of the callback route (`CALLBACK_PATH`, default `/callback`). */
  readonly callbackPath: string;
  /** When set, callbacks must carry `?token=<secret>` (`CALLBACK_SECRET`). */
  readonly callbackSecret: string | null;
  /** When set, callbacks must carry `Sign`/`RequestTime` signed with this token (`CALLBACK_SIGN_TOKEN`). */
  readonly callbackSignToken: string | null;
  /** API key ensured at startup with access to all apps (`BOOTSTRAP_API_KEY`). */
  readonly bootstrapApiKey: string | null;
  /** `development`, `production` or `test` (`NODE_ENV`, default `development`). */
  readonly nodeEnv: 'development' | 'production' | 'test';
  /** pino level (`LOG_LEVEL`, default `info`). */
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Largest number of callbacks written in one transaction (`INGEST_BATCH_MAX`, default 500). */
  readonly ingestBatchMax: number;
  /** A callback not committed within this many ms is answered 503 (`INGEST_TIMEOUT_MS`, default 1000). */
  readonly ingestTimeoutMs: number;
  /** Most callbacks waiting for a transaction at once; more are answered 503 (`INGEST_MAX_PENDING`, default 10000). */
  readonly ingestMaxPending: number;
  /** Size of the PostgreSQL connection pool (`DB_POOL_SIZE`, default 10). */
  readonly dbPoolSize: number;
  /** Catch-up read interval of the live hub in ms (`LIVE_POLL_MS`, default 1000). */
  readonly livePollMs: number;
  /** Undelivered events a subscriber may fall behind before it is cut off (`LIVE_QUEUE_MAX`, default 1000). */
  readonly liveQueueMax: number;
  /** Subscriptions allowed per WebSocket connection (`LIVE_MAX_SUBSCRIPTIONS`, default 20). */
  readonly liveMaxSubscriptions: number;
  /** Time a WebSocket has to send `connection_init`, in ms (`WS_INIT_TIMEOUT_MS`, default 3000). */
  readonly wsInitTimeoutMs: number;
  /** How often open WebSocket connections' API keys are checked again, in ms (`WS_KEY_RECHECK_MS`, default 30000). */
  readonly wsKeyRecheckMs: number;
  /** Whether callbacks the database cannot take are kept in a local spool and answered 200 (`SPOOL`, `on` or `off`, default `on`). */
  readonly spool: boolean;
  /** Folder of the spool (`SPOOL_DIR`, default `<DATA_DIR>/spool`). */
  readonly spoolDir: string;
  /** Largest size of the spool in MiB; past it callbacks are answered 503 (`SPOOL_MAX_MB`, default 1024). */
  readonly spoolMaxMb: number;
  /** Connections reserved for ingest, apart from queries and subscriptions (`DB_INGEST_POOL_SIZE`, default 4). */
  readonly dbIngestPoolSize: number;
  /**
   * Whether ingest's transactions run on a thread of their own, so their round trips never wait behind
   * HTTP, GraphQL or the live fan-out (`INGEST_THREAD`, `on` or `off`, default `on`; docs/architecture.md, Ingest).
   */
  readonly ingestThread: boolean;
  /** `statement_timeout` of query connections in ms, shorter than ingest's 15 s (`DB_QUERY_TIMEOUT_MS`, default 5000). */
  readonly dbQueryTimeoutMs: number;
  /**
   * Whether query connections send their statements prepared: parsed once per connection, each run still
   * planned for its parameters (`DB_PREPARED_STATEMENTS`, `on` or `off`, default `on`; `off` behind a pooler
   * in transaction mode that cannot keep them, such as PgBouncer before 1.21; docs/architecture.md,
   * Prepared statements).
   */
  readonly dbPreparedStatements: boolean;
  /**
   * Whether reads that fit are compiled to one statement and built from its rows without resolvers
   * (a page of participants or calls, or one call, with fields of those rows and totalCount only;
   * `GRAPHQL_COMPILED_READS`, `on` or `off`, default `on`; src/graphql/compiled-reads.ts). `off`
   * executes every read through the resolvers.
   */
  readonly graphqlCompiledReads: boolean;
  /** Largest estimated row cost of one GraphQL operation, with its variables (`GRAPHQL_MAX_COST`, default 20000). */
  readonly graphqlMaxCost: number;
  /** GraphQL HTTP requests and WebSocket queries one API key may have in flight on one replica; more get 429 / RATE_LIMITED (`GRAPHQL_MAX_CONCURRENCY_PER_KEY`, default 4). */
  readonly graphqlMaxConcurrencyPerKey: number;
  /** Time a whole HTTP request may take to arrive, in ms (`HTTP_REQUEST_TIMEOUT_MS`, default 10000). */
  readonly httpRequestTimeoutMs: number;
  /** Idle time after which a keep-alive connection is closed, in ms (`HTTP_KEEPALIVE_TIMEOUT_MS`, default 5000). */
  readonly httpKeepAliveTimeoutMs: number;
  /** Largest size of the quarantine in MiB; past it refusals are only counted (`QUARANTINE_MAX_MB`, default 256). */
  readonly quarantineMaxMb: number;
  /** Refusals kept whole per source address and minute; past it they are only counted (`QUARANTINE_RATE_PER_MIN`, default 60). */
  readonly quarantineRatePerMin: number;
  /** Days a quarantined callback is kept (`QUARANTINE_RETENTION_DAYS`, default 30). */
  readonly quarantineRetentionDays: number;
  /** Time the live fan-out may use in one turn of the event loop before it yields to ingest, in ms (`LIVE_FANOUT_BUDGET_MS`, default 2). */
  readonly liveFanoutBudgetMs: number;
  /** Most of the event loop's time the live fan-out may take, in percent of each 100 ms (`LIVE_FANOUT_PERCENT`, default 100: no bound). */
  readonly liveFanoutPercent: number;
  /** How long an API key's scope is cached per replica, in s; a revocation evicts it at once everywhere (`API_KEY_CACHE_SECONDS`, default 60, 0 = off). */
  readonly apiKeyCacheSeconds: number;
  /** Stored events one call may hold; past it a callback adding to it is refused (422) and quarantined (`CALL_MAX_EVENTS`, default 10000). */
  readonly callMaxEvents: number;
  /** How often the hourly stats rollup is brought up to date, in ms; 0 turns rollups off and `callStats` always reads raw calls (`STATS_ROLLUP_INTERVAL_MS`, default 2000). */
  readonly statsRollupIntervalMs: number;
  /**
   * Apps whose call records calltrail may pull from Tencent's records REST API, each with its secret key,
   * admin identifier, region or host, API generation and request rate (`TRTC_APPS`: JSON, or the path of a
   * JSON file; default none). Used by `npm run backfill` and the reconcile job (docs/trtc-callbacks.md, section 7).
   */
  readonly trtcApps: readonly TrtcAppConfig[];
  /** Base URL used instead of Tencent's host for every app, e.g. `http://127.0.0.1:9000` for a test server (`TRTC_API_BASE`). */
  readonly trtcApiBase: string | null;
  /** Minutes between reconcile runs against the records API; `null` (unset or 0) turns reconcile off (`RECONCILE_INTERVAL_MIN`). */
  readonly reconcileIntervalMin: number | null;
  /**
   * How far back each reconcile run looks, in minutes, by call start time (`RECONCILE_LOOKBACK_MIN`, default
   * `RECONCILE_INTERVAL_MIN` + 120, at most 10080: Tencent keeps 7 days; docs/reliability.md).
   */
  readonly reconcileLookbackMin: number;
  /** Event time each partition of `call_events` covers: `month`, `week` or `day`, in UTC (`EVENT_PARTITION`, default `month`). */
  readonly eventPartition: PartitionInterval;
  /** Intervals after the current one whose partitions are created in advance (`EVENT_PARTITIONS_AHEAD`, default 2). */
  readonly eventPartitionsAhead: number;
  /**
   * Days raw events are kept: older partitions are dropped whole, and callbacks with an older event time
   * are refused (422) and quarantined (`RETENTION_DAYS`; unset keeps every event; docs/operations.md, Retention).
   */
  readonly retentionDays: number | null;
  /** Days calls and their participants are kept, by start time (`CALL_RETENTION_DAYS`; unset keeps them). */
  readonly callRetentionDays: number | null;
  /** Time between two runs of partition upkeep and retention, in ms (`MAINTENANCE_INTERVAL_MS`, default 600000). */
  readonly maintenanceIntervalMs: number;
}

const int = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, { message: `expected an integer from ${min} to ${max}` })
    .transform(Number)
    .pipe(z.number().min(min, { message: `expected an integer from ${min} to ${max}` }).max(max, { message: `expected an integer from ${min} to ${max}` }));

const optionalText = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? null : v));

const postgresUrl = optionalText.pipe(
  z
    .string()
    .regex(/^postgres(ql)?:\/\//, { message: 'expected a postgres:// or postgresql:// URL' })
    .nullable(),
);

const envSchema = z.object({
  PORT: int(0, 65535).default(8080),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATABASE_URL: postgresUrl,
  DATABASE_READ_URL: postgresUrl,
  DB_READ_POOL_SIZE: int(1, 200).optional(),
  DATABASE_READ_FAILOVER: z.enum(['on', 'off']).default('on'),
  DATA_DIR: z.string().min(1).default('./.calltrail'),
  EMBEDDED_PG_PORT: int(1, 65535).optional(),
  SDKAPPIDS: optionalText.pipe(
    z
      .string()
      .regex(/^\s*\d+\s*(,\s*\d+\s*)*$/, { message: 'expected a comma-separated list of numeric SDKAppIDs' })
      .nullable(),
  ),
  CALLBACK_PATH: z.string().regex(/^\/\S*$/, { message: 'expected a path starting with /' }).default('/callback'),
  CALLBACK_SECRET: optionalText,
  CALLBACK_SIGN_TOKEN: optionalText,
  BOOTSTRAP_API_KEY: optionalText.pipe(
    z.string().min(16, { message: 'expected at least 16 characters' }).nullable(),
  ),
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  INGEST_BATCH_MAX: int(1, 5000).default(500),
  INGEST_TIMEOUT_MS: int(50, 60000).default(1000),
  INGEST_MAX_PENDING: int(1, 1000000).default(10000),
  DB_POOL_SIZE: int(2, 200).default(10),
  LIVE_POLL_MS: int(50, 60000).default(1000),
  LIVE_QUEUE_MAX: int(1, 1000000).default(1000),
  LIVE_MAX_SUBSCRIPTIONS: int(1, 1000).default(20),
  WS_INIT_TIMEOUT_MS: int(100, 60000).default(3000),
  WS_KEY_RECHECK_MS: int(100, 3600000).default(30000),
  SPOOL: z.enum(['on', 'off']).default('on'),
  SPOOL_DIR: z.string().min(1).optional(),
  SPOOL_MAX_MB: int(1, 1048576).default(1024),
  DB_INGEST_POOL_SIZE: int(1, 100).default(4),
  INGEST_THREAD: z.enum(['on', 'off']).default('on'),
  DB_QUERY_TIMEOUT_MS: int(100, 600000).default(5000),
  DB_PREPARED_STATEMENTS: z.enum(['on', 'off']).default('on'),
  GRAPHQL_COMPILED_READS: z.enum(['on', 'off']).default('on'),
  GRAPHQL_MAX_COST: int(1, 100000000).default(20000),
  GRAPHQL_MAX_CONCURRENCY_PER_KEY: int(1, 10000).default(4),
  HTTP_REQUEST_TIMEOUT_MS: int(1000, 600000).default(10000),
  HTTP_KEEPALIVE_TIMEOUT_MS: int(100, 600000).default(5000),
  QUARANTINE_MAX_MB: int(1, 1048576).default(256),
  QUARANTINE_RATE_PER_MIN: int(1, 1000000).default(60),
  QUARANTINE_RETENTION_DAYS: int(1, 36500).default(30),
  LIVE_FANOUT_BUDGET_MS: int(1, 1000).default(2),
  LIVE_FANOUT_PERCENT: int(1, 100).default(100),
  API_KEY_CACHE_SECONDS: int(0, 3600).default(60),
  CALL_MAX_EVENTS: int(100, 10000000).default(10000),
  STATS_ROLLUP_INTERVAL_MS: int(0, 3600000).default(2000),
  TRTC_APPS: optionalText,
  TRTC_API_BASE: optionalText.pipe(z.string().regex(/^https?:\/\/[^\s/?#]+\/?$/, { message: 'expected an http:// or https:// base URL with no path, e.g. http://127.0.0.1:9000' }).nullable()),
  RECONCILE_INTERVAL_MIN: int(0, 10080).optional(),
  RECONCILE_LOOKBACK_MIN: int(1, 10080).optional(),
  EVENT_PARTITION: z.enum(['month', 'week', 'day']).default('month'),
  EVENT_PARTITIONS_AHEAD: int(1, 60).default(2),
  RETENTION_DAYS: int(1, 36500).optional(),
  CALL_RETENTION_DAYS: int(1, 36500).optional(),
  MAINTENANCE_INTERVAL_MS: int(1000, 86400000).default(600000),
});

/** Tencent keeps call records for 7 days (docs/trtc-callbacks.md, section 6). */
const RECORDS_KEPT_MIN = 7 * 24 * 60;
/** Lookback beyond the interval by default: calls up to 2 h long, or a missed run, are still covered (docs/reliability.md). */
const LOOKBACK_MARGIN_MIN = 120;

/** The records API and reconcile settings, or the problems with them. */
function recordsSettings(e: z.infer<typeof envSchema>, sdkAppIds: readonly string[] | null) {
  const parsed = parseTrtcApps(e.TRTC_APPS);
  const problems = 'problems' in parsed ? parsed.problems : [];
  const trtcApps = 'apps' in parsed ? parsed.apps : [];
  const outside = sdkAppIds === null ? [] : trtcApps.filter((a) => !sdkAppIds.includes(a.sdkAppId)).map((a) => a.sdkAppId);
  if (outside.length > 0) problems.push(`TRTC_APPS: expected only apps listed in SDKAPPIDS, got ${outside.join(', ')} (add them to SDKAPPIDS or remove them)`);
  const interval = e.RECONCILE_INTERVAL_MIN === undefined || e.RECONCILE_INTERVAL_MIN === 0 ? null : e.RECONCILE_INTERVAL_MIN;
  if (interval !== null && trtcApps.length === 0 && problems.length === 0) {
    problems.push('RECONCILE_INTERVAL_MIN: expected TRTC_APPS to name the apps to reconcile, got no TRTC_APPS');
  }
  const lookback = e.RECONCILE_LOOKBACK_MIN ?? Math.min(RECORDS_KEPT_MIN, (interval ?? 0) + LOOKBACK_MARGIN_MIN);
  if (interval !== null && lookback < interval) {
    problems.push(`RECONCILE_LOOKBACK_MIN: expected at least RECONCILE_INTERVAL_MIN (${interval}) so runs leave no gap, got ${lookback}`);
  }
  return { problems, trtcApps, trtcApiBase: e.TRTC_API_BASE?.replace(/\/$/, '') ?? null, reconcileIntervalMin: interval, reconcileLookbackMin: lookback };
}

/** The read replica's settings (docs/scaling.md, "Read replicas"), or the problems with them. */
function readReplicaSettings(e: z.infer<typeof envSchema>) {
  const problems: string[] = [];
  if (e.DATABASE_READ_URL !== null && e.DATABASE_URL === null) {
    problems.push('DATABASE_READ_URL: expected DATABASE_URL to be set too (the primary the replica follows), got no DATABASE_URL');
  }
  return { problems, databaseReadUrl: e.DATABASE_READ_URL, dbReadPoolSize: e.DB_READ_POOL_SIZE ?? e.DB_POOL_SIZE, databaseReadFailover: e.DATABASE_READ_FAILOVER === 'on' };
}

/**
 * Most partitions of `call_events` day or week partitions may keep: every ingest batch plans and locks each one
 * (a 50-callback batch took 16–20 ms at 4 partitions, 38 ms at 99, 160–170 ms at 379; docs/operations.md, Retention).
 */
const MAX_PARTITIONS = 120;

/** Day and week partitions pile up without retention; each setting's partition count stays bounded. */
function partitionProblems(e: z.infer<typeof envSchema>): string[] {
  if (e.EVENT_PARTITION === 'month') return [];
  if (e.RETENTION_DAYS === undefined) {
    return [`EVENT_PARTITION: expected month when RETENTION_DAYS is unset (${e.EVENT_PARTITION} partitions would accumulate without end), got ${e.EVENT_PARTITION}`];
  }
  const days = e.EVENT_PARTITION === 'week' ? 7 : 1;
  const max = MAX_PARTITIONS * days;
  return e.RETENTION_DAYS > max ? [`RETENTION_DAYS: expected at most ${max} with EVENT_PARTITION=${e.EVENT_PARTITION} (${MAX_PARTITIONS} partitions; use a longer EVENT_PARTITION), got ${e.RETENTION_DAYS}`] : [];
}

/** Variables whose values never appear in error messages. */
const SECRETS = new Set(['DATABASE_URL', 'DATABASE_READ_URL', 'CALLBACK_SECRET', 'CALLBACK_SIGN_TOKEN', 'BOOTSTRAP_API_KEY']);

/** Thrown when the environment is invalid; the message lists every bad variable. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses an environment (default `process.env`) into a frozen {@link Config}. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const known = Object.fromEntries(
    Object.keys(envSchema.shape).map((k) => [k, env[k] === '' ? undefined : env[k]]),
  );
  const parsed = envSchema.safeParse(known);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const name = String(issue.path[0]);
        const got = env[name];
        const shown = got === undefined ? 'nothing' : SECRETS.has(name) ? `a value of ${got.length} characters` : JSON.stringify(got);
        return `${name}: ${issue.message} (got ${shown})`;
      }),
    );
  }
  const e = parsed.data;
  const sdkAppIds = e.SDKAPPIDS === null ? null : e.SDKAPPIDS.split(',').map((s) => s.trim());
  if (e.NODE_ENV === 'production' && sdkAppIds === null) {
    throw new ConfigError([
      'SDKAPPIDS: expected the comma-separated SDKAppIDs to accept when NODE_ENV=production (got nothing)',
    ]);
  }
  const { problems, ...records } = recordsSettings(e, sdkAppIds);
  problems.push(...partitionProblems(e));
  const { problems: replicaProblems, ...readReplica } = readReplicaSettings(e);
  problems.push(...replicaProblems);
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    dataDir: e.DATA_DIR,
    embeddedPgPort: e.EMBEDDED_PG_PORT ?? null,
    sdkAppIds: sdkAppIds === null ? null : Object.freeze(sdkAppIds),
    callbackPath: e.CALLBACK_PATH,
    callbackSecret: e.CALLBACK_SECRET,
    callbackSignToken: e.CALLBACK_SIGN_TOKEN,
    bootstrapApiKey: e.BOOTSTRAP_API_KEY,
    nodeEnv: e.NODE_ENV,
    logLevel: e.LOG_LEVEL,
    ingestBatchMax: e.INGEST_BATCH_MAX,
    ingestTimeoutMs: e.INGEST_TIMEOUT_MS,
    ingestMaxPending: e.INGEST_MAX_PENDING,
    dbPoolSize: e.DB_POOL_SIZE,
    livePollMs: e.LIVE_POLL_MS,
    liveQueueMax: e.LIVE_QUEUE_MAX,
    liveMaxSubscriptions: e.LIVE_MAX_SUBSCRIPTIONS,
    wsInitTimeoutMs: e.WS_INIT_TIMEOUT_MS,
    wsKeyRecheckMs: e.WS_KEY_RECHECK_MS,
    spool: e.SPOOL === 'on',
    spoolDir: e.SPOOL_DIR ?? join(e.DATA_DIR, 'spool'),
    spoolMaxMb: e.SPOOL_MAX_MB,
    dbIngestPoolSize: e.DB_INGEST_POOL_SIZE,
    ingestThread: e.INGEST_THREAD === 'on',
    dbQueryTimeoutMs: e.DB_QUERY_TIMEOUT_MS,
    dbPreparedStatements: e.DB_PREPARED_STATEMENTS === 'on',
    graphqlCompiledReads: e.GRAPHQL_COMPILED_READS === 'on',
    graphqlMaxCost: e.GRAPHQL_MAX_COST,
    graphqlMaxConcurrencyPerKey: e.GRAPHQL_MAX_CONCURRENCY_PER_KEY,
    httpRequestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
    httpKeepAliveTimeoutMs: e.HTTP_KEEPALIVE_TIMEOUT_MS,
    quarantineMaxMb: e.QUARANTINE_MAX_MB,
    quarantineRatePerMin: e.QUARANTINE_RATE_PER_MIN,
    quarantineRetentionDays: e.QUARANTINE_RETENTION_DAYS,
    liveFanoutBudgetMs: e.LIVE_FANOUT_BUDGET_MS,
    liveFanoutPercent: e.LIVE_FANOUT_PERCENT,
    apiKeyCacheSeconds: e.API_KEY_CACHE_SECONDS,
    callMaxEvents: e.CALL_MAX_EVENTS,
    statsRollupIntervalMs: e.STATS_ROLLUP_INTERVAL_MS,
    ...records,
    eventPartition: e.EVENT_PARTITION,
    eventPartitionsAhead: e.EVENT_PARTITIONS_AHEAD,
    retentionDays: e.RETENTION_DAYS ?? null,
    callRetentionDays: e.CALL_RETENTION_DAYS ?? null,
    maintenanceIntervalMs: e.MAINTENANCE_INTERVAL_MS,
    ...readReplica,
  });
}
