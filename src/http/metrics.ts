import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The process's Prometheus metrics; one registry per app so tests can build several apps. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'calltrail_' });
  return {
    registry,
    /** Registers gauges of open WebSocket connections and subscriptions, read at scrape time. */
    live(read: () => { connections: number; subscriptions: number; groups: number }) {
      new Gauge({ name: 'calltrail_ws_connections', help: 'Open graphql-ws connections', registers: [registry], collect() { this.set(read().connections); } });
      new Gauge({ name: 'calltrail_subscriptions', help: 'Open subscriptions', registers: [registry], collect() { this.set(read().subscriptions); } });
      new Gauge({ name: 'calltrail_live_groups', help: 'Groups of identical subscriptions (same scope, filter and selection): one execution per event each', registers: [registry], collect() { this.set(read().groups); } });
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
  };
}
export type Metrics = ReturnType<typeof createMetrics>;
