import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PoolStats } from '../db/pool-stats';
import type { FoldCacheSize } from '../ingest/fold-cache';
import type { ReplicaStatus } from '../db/read-replica';
import { ScrapeSample } from './scrape-sample';

/** Buckets of request latencies, in seconds: ingest answers in milliseconds, a heavy query in seconds. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** What the live side reports at scrape time. */
export interface LiveReading {
  readonly connections: number;
  readonly subscriptions: number;
  /** Groups of identical subscriptions, each executed once per event. */
  readonly groups: number;
  /** The highest position the hub has read and dispatched. */
  readonly hubPosition: string;
  /** Undelivered items in the fullest subscriber queue. */
  readonly maxQueueDepth: number;
}

/** The quarantine as stored (read from the database at scrape time). */
export interface QuarantineTotals {
  /** Refusals kept whole (distinct rows of `rejected_callbacks`). */
  readonly rows: number;
  /** Refusals only counted (sum of `rejected_callback_counts.times`, flushed every 10 s). */
  readonly counted: number;
  readonly bytes: number;
}

/** The process's Prometheus metrics; one registry per app so tests can build several apps. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'calltrail_' });
  const httpSeconds = new Histogram({
    name: 'calltrail_http_request_duration_seconds',
    help: 'HTTP requests, by method, route pattern (unmatched for none) and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  return {
    registry,
    /**
     * Registers gauges of the live side, read at scrape time: connections, subscriptions, groups of identical subscriptions, the fullest
     * subscriber queue, and how far the hub's reads are behind the newest stored event (`head`, a sampled
     * database read). Positions may have gaps (a duplicate consumes one), so the lag is an upper bound.
     */
    live(read: () => LiveReading, head?: () => Promise<string>) {
      new Gauge({ name: 'calltrail_ws_connections', help: 'Open graphql-ws connections', registers: [registry], collect() { this.set(read().connections); } });
      new Gauge({ name: 'calltrail_subscriptions', help: 'Open subscriptions', registers: [registry], collect() { this.set(read().subscriptions); } });
      new Gauge({ name: 'calltrail_live_groups', help: 'Groups of identical subscriptions (same scope, filter and selection): one execution per event each', registers: [registry], collect() { this.set(read().groups); } });
      new Gauge({ name: 'calltrail_live_queue_depth_max', help: 'Undelivered items in the fullest subscriber queue (closed 4290 past LIVE_QUEUE_MAX)', registers: [registry], collect() { this.set(read().maxQueueDepth); } });
      new Gauge({ name: 'calltrail_live_position', help: 'Highest event position the live hub has read and dispatched', registers: [registry], collect() { this.set(Number(read().hubPosition)); } });
      if (!head) return;
      const headSample = new ScrapeSample(head);
      new Gauge({
        name: 'calltrail_live_lag_positions',
        help: 'Stored event positions the live hub has not read yet (newest stored position minus the hub position)',
        registers: [registry],
        async collect() {
          const newest = await headSample.get();
          if (newest !== null) this.set(Math.max(0, Number(newest) - Number(read().hubPosition)));
        },
      });
    },
    /** Registers gauges of the outage spool, read at scrape time. */
    spool(read: () => { records: number; bytes: number; oldestAppendedAt: number | null }) {
      new Gauge({ name: 'calltrail_spool_records', help: 'Callbacks in the outage spool, not yet stored in PostgreSQL', registers: [registry], collect() { this.set(read().records); } });
      new Gauge({ name: 'calltrail_spool_bytes', help: 'Size of the outage spool on disk', registers: [registry], collect() { this.set(read().bytes); } });
      new Gauge({
        name: 'calltrail_spool_oldest_age_seconds',
        help: 'Age of the oldest callback in the outage spool (0 when empty)',
        registers: [registry],
        collect() {
          const oldest = read().oldestAppendedAt;
          this.set(oldest === null ? 0 : (Date.now() - oldest) / 1000);
        },
      });
    },
    /** Registers the partition upkeep and retention job's metrics (docs/operations.md, Retention). */
    maintenance() {
      return {
        runs: new Counter({ name: 'calltrail_maintenance_runs_total', help: 'Partition upkeep and retention runs by outcome (ok, error, skipped: another replica ran)', labelNames: ['outcome'] as const, registers: [registry] }),
        created: new Counter({ name: 'calltrail_event_partitions_created_total', help: 'Partitions of call_events created by this replica', registers: [registry] }),
        dropped: new Counter({ name: 'calltrail_event_partitions_dropped_total', help: 'Partitions of call_events dropped by retention (RETENTION_DAYS) on this replica', registers: [registry] }),
        callsDeleted: new Counter({ name: 'calltrail_calls_deleted_total', help: 'Calls deleted by retention (CALL_RETENTION_DAYS) on this replica', registers: [registry] }),
        partitions: new Gauge({ name: 'calltrail_event_partitions', help: 'Partitions of call_events, the default one included, as of the last run', registers: [registry] }),
        oldestEvent: new Gauge({ name: 'calltrail_events_oldest_timestamp_seconds', help: 'Event time of the oldest stored event as of the last run (0: none)', registers: [registry] }),
        postponed: new Gauge({
          name: 'calltrail_event_partitions_postponed',
          help: 'Partitions past RETENTION_DAYS the last run left whole: more of their events were stored after the oldest event kept than a drop moves',
          registers: [registry],
        }),
        keptLate: new Counter({ name: 'calltrail_events_kept_late_total', help: 'Events of dropped partitions kept (moved to the default partition): stored after the oldest event kept', registers: [registry] }),
      };
    },
    /** Registers the reconcile job's metrics (docs/reliability.md, "Reconcile"), its apps' series at 0. */
    reconcile(apps: readonly string[]) {
      const m = {
        runs: new Counter({ name: 'calltrail_reconcile_runs_total', help: 'Reconcile runs by outcome (ok, error, skipped: another replica ran, stopped)', labelNames: ['outcome'] as const, registers: [registry] }),
        errors: new Counter({ name: 'calltrail_reconcile_errors_total', help: "Reconcile pulls that failed, by app (the run's log says why)", labelNames: ['app'] as const, registers: [registry] }),
        records: new Counter({ name: 'calltrail_reconcile_records_total', help: "Records read from Tencent's records API by reconcile, by app", labelNames: ['app'] as const, registers: [registry] }),
        callsFound: new Counter({
          name: 'calltrail_reconcile_calls_found_total',
          help: 'Calls found only through records: calltrail had no event of them before reconcile read their record (callbacks it missed), by app',
          labelNames: ['app'] as const,
          registers: [registry],
        }),
        lastSuccess: new Gauge({ name: 'calltrail_reconcile_last_success_timestamp_seconds', help: 'When a reconcile run of this replica last pulled every app without error (0: never)', registers: [registry] }),
      };
      for (const app of apps) for (const c of [m.errors, m.records, m.callsFound]) c.inc({ app }, 0);
      return m;
    },
    spoolReplayed: new Counter({
      name: 'calltrail_spool_replayed_total',
      help: 'Spooled callbacks handed back to PostgreSQL',
      registers: [registry],
    }),
    callbacks: new Counter({
      name: 'calltrail_callbacks_total',
      help: 'Callbacks received, by outcome (stored, duplicate, spooled, or the refusal code)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    batchSize: new Histogram({
      name: 'calltrail_ingest_batch_size',
      help: 'Callbacks per ingest transaction',
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
      registers: [registry],
    }),
    batchSeconds: new Histogram({
      name: 'calltrail_ingest_batch_seconds',
      help: 'Duration of one ingest transaction',
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2],
      registers: [registry],
    }),
    graphqlSeconds: new Histogram({
      name: 'calltrail_graphql_operation_seconds',
      help: 'GraphQL operations over HTTP, from request to response, by operation name (bounded: anonymous, unknown, other)',
      labelNames: ['operation'] as const,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    graphqlErrors: new Counter({
      name: 'calltrail_graphql_errors_total',
      help: 'GraphQL errors answered, by operation name and extensions.code',
      labelNames: ['operation', 'code'] as const,
      registers: [registry],
    }),
    httpSeconds,
    slowConsumerCuts: new Counter({
      name: 'calltrail_live_slow_consumer_closes_total',
      help: 'WebSocket connections closed 4290 because a subscriber fell more than LIVE_QUEUE_MAX behind',
      registers: [registry],
    }),
    quarantined: new Counter({
      name: 'calltrail_quarantine_refusals_total',
      help: 'Refused callbacks by what the quarantine did: kept whole, or only counted',
      labelNames: ['kept'] as const,
      registers: [registry],
    }),
    /** Times every HTTP request by its route pattern (never the raw URL: ids and query strings would grow the labels). */
    http(server: FastifyInstance) {
      server.addHook('onResponse', async (request, reply) => {
        const route = request.routeOptions.url ?? 'unmatched';
        httpSeconds.observe({ method: request.method, route, status_code: String(reply.statusCode) }, reply.elapsedTime / 1000);
      });
    },
    /** Registers gauges of each connection pool, read at scrape time. */
    pools(read: Readonly<Record<string, () => PoolStats>>) {
      const each = (gauge: Gauge<'pool'>, pick: (s: PoolStats) => number) => {
        for (const [pool, stats] of Object.entries(read)) gauge.set({ pool }, pick(stats()));
      };
      new Gauge({ name: 'calltrail_db_pool_in_use', help: 'Connections of the pool running a statement or transaction', labelNames: ['pool'] as const, registers: [registry], collect() { each(this, (s) => s.inUse); } });
      new Gauge({ name: 'calltrail_db_pool_idle', help: 'Open connections of the pool that are idle', labelNames: ['pool'] as const, registers: [registry], collect() { each(this, (s) => s.idle); } });
      new Gauge({ name: 'calltrail_db_pool_waiting', help: 'Requests waiting for a connection of the pool (it is exhausted)', labelNames: ['pool'] as const, registers: [registry], collect() { each(this, (s) => s.waiting); } });
      new Gauge({ name: 'calltrail_db_pool_max', help: 'Largest number of connections of the pool', labelNames: ['pool'] as const, registers: [registry], collect() { each(this, (s) => s.max); } });
    },
    /** Registers gauges of the ingest writer's fold cache of large calls, read at scrape time. */
    foldCache(read: () => FoldCacheSize) {
      new Gauge({ name: 'calltrail_ingest_fold_cache_calls', help: 'Large calls whose events the ingest writer holds, so a batch reads back only newer ones', registers: [registry], collect() { this.set(read().calls); } });
      new Gauge({ name: 'calltrail_ingest_fold_cache_events', help: 'Events the ingest writer holds for large calls (at most 50,000)', registers: [registry], collect() { this.set(read().events); } });
    },
    /** Registers the gauge of how far PostgreSQL's clock is from this server's, a database read sampled at most once a second. */
    clock(read: () => Promise<number>) {
      const sample = new ScrapeSample(read);
      new Gauge({
        name: 'calltrail_clock_offset_seconds',
        help: "How far PostgreSQL's clock is ahead of this server's (negative: behind); ingest's event-time checks use this server's clock",
        registers: [registry],
        async collect() {
          this.set((await sample.get()) ?? NaN); // NaN until PostgreSQL answered once
        },
      });
    },
    /** Registers gauges of the stored quarantine, a database read sampled at most once a second. */
    quarantine(read: () => Promise<QuarantineTotals>) {
      const sample = new ScrapeSample(read);
      const gauge = (name: string, help: string, pick: (t: QuarantineTotals) => number) =>
        new Gauge({
          name,
          help,
          registers: [registry],
          async collect() {
            const totals = await sample.get();
            if (totals !== null) this.set(pick(totals));
          },
        });
      gauge('calltrail_quarantine_rows', 'Refused callbacks kept whole in rejected_callbacks (distinct; repeats counted in the row)', (t) => t.rows);
      gauge('calltrail_quarantine_counted', 'Refused callbacks only counted in rejected_callback_counts, within retention', (t) => t.counted);
      gauge('calltrail_quarantine_bytes', 'Size of rejected_callbacks on disk (bounded by QUARANTINE_MAX_MB)', (t) => t.bytes);
    },
    /**
     * Registers the read replica's gauges, from its status statement sampled at most once a second, and
     * the count of read statements the primary answered because the replica could not be reached (`failovers`).
     */
    replica(read: () => Promise<ReplicaStatus>, failovers: () => number) {
      const sample = new ScrapeSample(read);
      new Gauge({
        name: 'calltrail_db_replica_up',
        help: 'Whether the read replica (DATABASE_READ_URL) answers (1) or not (0)',
        registers: [registry],
        async collect() {
          this.set((await sample.get())?.reachable ? 1 : 0);
        },
      });
      new Gauge({
        name: 'calltrail_db_replica_lag_seconds',
        help: 'How far the read replica is behind the primary: 0 when it has replayed all the WAL it received, else the age of the last transaction it replayed; NaN when unknown (unreachable, not a streaming replica, nothing replayed yet)',
        registers: [registry],
        async collect() {
          this.set((await sample.get())?.lagSeconds ?? NaN);
        },
      });
      let counted = 0;
      new Counter({
        name: 'calltrail_db_replica_failover_reads_total',
        help: 'Read statements the primary answered because the read replica could not be reached (DATABASE_READ_FAILOVER=on)',
        registers: [registry],
        collect() {
          const now = failovers();
          this.inc(now - counted);
          counted = now;
        },
      });
    },
    /** Registers a gauge that is 1 when /readyz answers 200 (database ready, or the spool keeps callbacks meanwhile). */
    readiness(read: () => Promise<{ ready: boolean; database: boolean }>) {
      const sample = new ScrapeSample(read);
      const gauge = (name: string, help: string, pick: (r: { ready: boolean; database: boolean }) => boolean) =>
        new Gauge({
          name,
          help,
          registers: [registry],
          async collect() {
            const r = await sample.get();
            this.set(r !== null && pick(r) ? 1 : 0);
          },
        });
      gauge('calltrail_ready', 'Whether /readyz answers 200 (1) or 503 (0)', (r) => r.ready);
      gauge('calltrail_database_ready', 'Whether PostgreSQL answers with every migration applied', (r) => r.database);
    },
  };
}
export type Metrics = ReturnType<typeof createMetrics>;
