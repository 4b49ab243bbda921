import { fastifyApolloDrainPlugin } from '@as-integrations/fastify';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { API_KEYS_CHANNEL, ApiKeyRepository } from '../api-keys/api-key.repository';
import { LiveRepository } from '../calls/live.repository';
import { StatsRefresher } from '../calls/stats-refresher';
import { StatsRollupRepository } from '../calls/stats-rollup.repository';
import { clockOffsetSeconds } from '../db/clock';
import { PgListener } from '../db/listener';
import { poolStats } from '../db/pool-stats';
import type { Config } from '../config';
import type { Database } from '../db/database';
import type { ReplicaDataSource } from '../db/read-replica';
import type { BatchWriter } from '../ingest/batch-writer';
import { EVENTS_CHANNEL } from '../ingest/ingest.repository';
import { createApolloServer } from '../graphql/apollo';
import { compiledReadsPlugin } from '../graphql/compiled-reads';
import { createServices } from '../graphql/services';
import { createArmor } from '../graphql/limits';
import { InFlightPerKey } from '../graphql/in-flight';
import { buildCalltrailSchema } from '../graphql/schema';
import { LiveHub } from '../live/live-hub';
import { QuarantineRepository } from '../quarantine/quarantine.repository';
import { callbackRoutes } from './callback.route';
import { consoleRoutes, defaultConsoleDir } from './console.route';
import { graphqlRoutes } from './graphql.route';
import { attachGraphQLWs } from './graphql-ws';
import { healthRoutes } from './health.route';
import { graphqlMetricsPlugin } from './graphql-metrics.plugin';
import { createIngest, type Ingest } from './ingest.assembly';
import { createMetrics, type Metrics } from './metrics';
import { startMaintenance } from './maintenance.assembly';
import { startReconcile } from './reconcile.assembly';
import type { ReconcileScheduler } from '../records/reconcile.scheduler';
import type { EventMaintenance } from '../calls/event-maintenance';
import { createServer } from './server';
import { OUTAGE_LOG_MS, throttledLog } from './throttled-log';

/** A clock further than this from PostgreSQL's is logged at start (calltrail_clock_offset_seconds shows it always). */
const CLOCK_WARN_SECONDS = 60;

/** Everything `createApp` builds; `listen` is left to the caller (tests use port 0). */
export interface CalltrailApp {
  readonly server: FastifyInstance;
  readonly writer: BatchWriter;
  readonly ingest: Ingest;
  readonly metrics: Metrics;
  readonly hub: LiveHub;
  /** The reconcile job against Tencent's records API; `null` unless `RECONCILE_INTERVAL_MIN` is set. */
  readonly reconcile: ReconcileScheduler | null;
  /** Partition upkeep and retention of `call_events` (docs/operations.md, Retention). */
  readonly maintenance: EventMaintenance;
  /** Readiness off, stop accepting, flush the batch. The database is the caller's to close. */
  close(): Promise<void>;
}

export interface AppDeps {
  /** Without `readDataSource` queries read `dataSource` (no replica). */
  readonly db: Pick<Database, 'dataSource' | 'ingestDataSource' | 'isReady' | 'url'> & Partial<Pick<Database, 'readDataSource' | 'replica'>>;
}

/** Assembles the HTTP server without listening. */
export async function createApp(config: Config, deps: AppDeps): Promise<CalltrailApp> {
  const server = createServer(config);
  const metrics = createMetrics();
  metrics.http(server); // before any route, so every route is timed
  const replica = deps.db.replica ?? null;
  // Queries read the replica when there is one; API keys, subscriptions and everything that writes stay on the primary (docs/scaling.md, "Read replicas").
  const services = createServices(deps.db.dataSource, config.apiKeyCacheSeconds * 1000, config.statsRollupIntervalMs > 0, deps.db.readDataSource ?? deps.db.dataSource);
  if (replica) watchReplica(replica, config.databaseReadFailover, server.log, metrics);
  const ingest = await createIngest(config, deps.db, server.log, metrics);
  metrics.pools({
    query: () => poolStats(deps.db.dataSource),
    ingest: () => ingest.poolStats(),
    // With the ingest thread, the main thread's ingest pool only writes the quarantine.
    ...(ingest.threaded && { quarantine: () => poolStats(deps.db.ingestDataSource) }),
    ...(replica && { read: () => poolStats(replica) }),
  });
  metrics.foldCache(() => ingest.foldCacheSize());
  if (config.bootstrapApiKey !== null) await new ApiKeyRepository(deps.db.dataSource).ensure(config.bootstrapApiKey, 'bootstrap');
  const production = config.nodeEnv === 'production';
  const schema = await buildCalltrailSchema();
  const armor = createArmor(production, config.graphqlMaxCost); // the same limits for HTTP queries and WebSocket subscriptions
  const apollo = createApolloServer(schema, production, armor, [
    fastifyApolloDrainPlugin(server),
    graphqlMetricsPlugin(metrics),
    // A read that falls back does so on every request alike (a row's value, a server setting): one line per interval.
    ...(config.graphqlCompiledReads ? [compiledReadsPlugin(throttledLog((obj, msg) => server.log.warn(obj, msg), OUTAGE_LOG_MS))] : []),
  ]);
  await apollo.start();

  // Both repeat on every poll and reconnect through an outage: one line per interval, with the count left out.
  const liveReadFailed = throttledLog((obj, msg) => server.log.warn(obj, msg), OUTAGE_LOG_MS);
  const listenLost = throttledLog((obj, msg) => server.log.warn(obj, msg), OUTAGE_LOG_MS);
  const liveRepository = new LiveRepository(deps.db.dataSource); // the primary: live reads and resume must not miss what a replica has not replayed yet
  const hub = new LiveHub(liveRepository, {
    queueMax: config.liveQueueMax,
    pollMs: config.livePollMs,
    // A read dispatches up to readBatch events at once, so it must not exceed a subscriber's queue.
    readBatch: Math.min(500, config.liveQueueMax),
    fanoutBudgetMs: config.liveFanoutBudgetMs,
    fanoutShare: config.liveFanoutPercent / 100,
    onError: (err) => liveReadFailed({ err }, 'live read failed; retrying at the next wake-up'),
  });
  await hub.start();
  const listener = new PgListener({
    url: deps.db.url,
    channels: { [EVENTS_CHANNEL]: () => hub.wake(), [API_KEYS_CHANNEL]: (hash) => services.apiKeys.evict(hash) },
    onConnect: () => {
      services.apiKeys.clear(); // revocations may have been missed while disconnected
      hub.wake();
    },
    onError: (err) => listenLost({ err }, 'LISTEN connection lost; reconnecting'),
  });
  await listener.start();
  const inFlight = new InFlightPerKey(config.graphqlMaxConcurrencyPerKey); // HTTP and WebSocket operations of a key together
  const ws = attachGraphQLWs({
    server: server.server,
    schema,
    services,
    hub,
    production,
    validationRules: armor.validationRules,
    maxSubscriptions: config.liveMaxSubscriptions,
    initTimeoutMs: config.wsInitTimeoutMs,
    keyRecheckMs: config.wsKeyRecheckMs,
    maxCost: armor.maxCost,
    logger: server.log,
    inFlight,
    onSlowConsumer: () => metrics.slowConsumerCuts.inc(),
  });
  metrics.live(
    () => ({ connections: ws.connections, subscriptions: hub.subscriptions, groups: hub.groups, hubPosition: hub.position, maxQueueDepth: hub.maxQueueDepth }),
    () => liveRepository.headPosition(),
  );
  const quarantineReads = new QuarantineRepository(deps.db.dataSource); // the query pool: a scrape never takes ingest's connections
  metrics.quarantine(() => quarantineReads.totals());
  metrics.clock(() => clockOffsetSeconds(deps.db.dataSource));
  // Said once at start too: a clock a day behind refuses every callback once RETENTION_DAYS is set (EVENT_AHEAD).
  void clockOffsetSeconds(deps.db.dataSource).then(
    (offset) => {
      if (Math.abs(offset) > CLOCK_WARN_SECONDS) {
        server.log.warn({ offsetSeconds: Math.round(offset) }, `clock: expected this server's clock within ${CLOCK_WARN_SECONDS} s of PostgreSQL's, got ${Math.round(offset)} s apart; ingest dates its checks with this server's clock: synchronise it (NTP)`);
      }
    },
    () => undefined,
  );
  const refreshFailed = throttledLog((obj, msg) => server.log.warn(obj, msg), OUTAGE_LOG_MS);
  const statsRefresher = config.statsRollupIntervalMs > 0
    ? new StatsRefresher(new StatsRollupRepository(deps.db.dataSource), {
        intervalMs: config.statsRollupIntervalMs,
        onError: (err) => refreshFailed({ err }, 'stats rollup refresh failed; retrying at the next turn'),
      })
    : null;
  statsRefresher?.start();
  const reconcile = startReconcile(config, deps.db, server.log, metrics);
  const maintenance = startMaintenance(config, deps.db, server.log, metrics);

  let accepting = true;
  await server.register(healthRoutes, { isReady: deps.db.isReady, isAccepting: () => accepting, spool: ingest.spool, metrics, replica: replica && (() => replica.status()) });
  await server.register(callbackRoutes, { path: config.callbackPath, ingest: ingest.service, metrics });
  await server.register(graphqlRoutes, { apollo, services, inFlight });
  await server.register(consoleRoutes, { dir: defaultConsoleDir() });
  return {
    server,
    writer: ingest.writer,
    ingest,
    metrics,
    hub,
    reconcile,
    maintenance,
    async close() {
      accepting = false;
      await reconcile?.stop();
      await maintenance.stop();
      await ws.close();
      await server.close();
      await ingest.close();
      await listener.stop();
      await hub.stop();
      await statsRefresher?.stop();
    },
  };
}

/** Logs when the read replica stops and starts answering, and registers its metrics. */
function watchReplica(replica: ReplicaDataSource, failover: boolean, log: FastifyBaseLogger, metrics: Metrics): void {
  const down = (error: string) =>
    log.warn({ error }, failover ? 'read replica unreachable: queries read the primary until it answers' : 'read replica unreachable: queries fail (SERVICE_UNAVAILABLE) until it answers');
  replica.onChange((reachable, error) => (reachable ? log.info('read replica answers again: queries read it') : down(error ?? 'unknown')));
  if (replica.unreachable !== null) down(replica.unreachable); // already at start-up
  metrics.replica(() => replica.status(), () => replica.failoverCount);
}
