/**
 * Live fan-out: what subscribers cost. For each scenario a fresh database and app, S subscriptions
 * over graphql-ws, then E callbacks posted over HTTP; we measure the delivery latency seen by a probe
 * subscriber (callback sent → event received), the time until every subscriber has every event, and
 * the live hub's SQL reads while delivering (ingest writes are not counted). Baseline: one subscriber, in the same run.
 *
 *   npm run bench:live                    # embedded PostgreSQL
 *   DATABASE_URL=postgres://... BENCH_EVENTS=2000 npm run bench:live
 */
import 'reflect-metadata';
import { createClient, type Client } from 'graphql-ws';
import type { Logger } from 'typeorm';
import WebSocket from 'ws';
import { ApiKeyRepository } from '../src/api-keys/api-key.repository';
import { loadConfig } from '../src/config';
import { createApp } from '../src/http/app';
import { freshDatabase, run, withPostgres } from './support';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1000);
const CONCURRENCY = 16;

/** Counts the live hub's reads (the statements subscribers could cost), apart from ingest writes. */
class Counter implements Logger {
  n = 0;
  logQuery(query: string): void {
    if (query.includes('WHERE e.position > $1::bigint')) this.n++;
  }
  logQueryError(): void {}
  logQuerySlow(): void {}
  logSchemaBuild(): void {}
  logMigration(): void {}
  log(): void {}
}

const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];

async function scenario(adminUrl: string, label: string, matching: number, idle: number) {
  const counter = new Counter();
  const { url, dataSource, drop } = await freshDatabase(adminUrl, `calltrail_bench_live_${matching}_${idle}_${process.pid}`, counter);
  const { key } = await new ApiKeyRepository(dataSource).create('bench', null);
  const config = loadConfig({ LOG_LEVEL: 'silent', SPOOL: 'off', LIVE_MAX_SUBSCRIPTIONS: '1000', LIVE_QUEUE_MAX: '100000', LIVE_POLL_MS: '1000' });
  const app = await createApp(config, { db: { dataSource, ingestDataSource: dataSource, url, isReady: async () => true } });
  await app.server.listen({ port: 0, host: '127.0.0.1' });
  const base = `127.0.0.1:${(app.server.server.address() as { port: number }).port}`;

  const clients: Client[] = Array.from({ length: 10 }, () =>
    createClient({ url: `ws://${base}/graphql`, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${key}` }, lazy: false, retryAttempts: 0 }),
  );
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  let delivered = 0;
  let allDone: () => void = () => undefined;
  const done = new Promise<void>((r) => (allDone = r));
  const total = EVENTS * matching;
  const subscribe = (i: number, filter: object, probe: boolean) =>
    clients[i % clients.length].subscribe<{ callEventAdded: { userId: string } }>(
      { query: 'subscription($f: CallEventFilter) { callEventAdded(filter: $f) { userId cursor event } }', variables: { f: filter } },
      {
        next: ({ data }) => {
          if (probe) latencies.push(performance.now() - (sentAt.get(data!.callEventAdded.userId) ?? NaN));
          if (++delivered === total) allDone();
        },
        error: (e) => console.error(e),
        complete: () => undefined,
      },
    );
  for (let i = 0; i < matching; i++) subscribe(i, {}, i === 0);
  for (let i = 0; i < idle; i++) subscribe(i, { userId: `nobody-${i}` }, false);
  await new Promise((r) => setTimeout(r, 500));
  while (app.hub.subscriptions < matching + idle) await new Promise((r) => setTimeout(r, 50));

  const before = counter.n;
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < EVENTS) {
      const i = next++;
      const userId = `u${i}`;
      sentAt.set(userId, performance.now());
      const body = JSON.stringify({ UserId: userId, CallId: `call-${i % 200}`, Role: 'callee', Event: 'receive_call', EventTime: 1_704_695_566 + i, MediaType: 'audio', CallType: 'single' });
      const res = await fetch(`http://${base}/callback?sdkappid=1400000001`, { method: 'POST', body });
      await res.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const ingested = performance.now();
  await done;
  const allDelivered = performance.now() - started;
  const statements = counter.n - before;

  await Promise.all(clients.map((c) => c.dispose()));
  await app.close();
  await drop();
  console.log(
    `${label.padEnd(44)} probe latency p50 ${percentile(latencies, 0.5).toFixed(1).padStart(6)} ms  p95 ${percentile(latencies, 0.95).toFixed(1).padStart(6)} ms` +
      `  all ${total} deliveries in ${(allDelivered / 1000).toFixed(2)} s (ingest ${((ingested - started) / 1000).toFixed(2)} s)  live reads ${statements}`,
  );
  return { p50: percentile(latencies, 0.5), statements };
}

run(() =>
  withPostgres(async (adminUrl, where) => {
    console.log(`live bench: ${EVENTS} callbacks (concurrency ${CONCURRENCY}), ${where}`);
    const base = await scenario(adminUrl, 'baseline: 1 subscriber', 1, 0);
    const idle = await scenario(adminUrl, '1 subscriber + 500 idle (non-matching)', 1, 500);
    const fan = await scenario(adminUrl, '100 subscribers, every event to each', 100, 0);
    console.log(`idle 500 / baseline: latency ${(idle.p50 / base.p50).toFixed(2)}x, reads ${(idle.statements / base.statements).toFixed(2)}x`);
    console.log(`fan-out 100 / baseline: latency ${(fan.p50 / base.p50).toFixed(2)}x, reads ${(fan.statements / base.statements).toFixed(2)}x`);
  }),
);
