/**
 * Ingest throughput: callbacks per second through the real HTTP route into PostgreSQL, with group
 * commit (INGEST_BATCH_MAX=500) against a baseline of one transaction per callback (INGEST_BATCH_MAX=1),
 * measured in the same run on fresh databases.
 *
 *   npm run bench:ingest                 # embedded PostgreSQL
 *   DATABASE_URL=postgres://... npm run bench:ingest
 *   BENCH_CALLBACKS=20000 BENCH_CONCURRENCY=128 npm run bench:ingest
 */
import 'reflect-metadata';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, setGlobalDispatcher } from 'undici';
import { loadConfig } from '../src/config';
import { createApp } from '../src/http/app';
import { freshDatabase, run, withPostgres } from './support';

const TOTAL = Number(process.env.BENCH_CALLBACKS ?? 5000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const EVENTS_PER_CALL = 6;
setGlobalDispatcher(new Agent({ connections: CONCURRENCY, pipelining: 1 }));

function body(i: number) {
  const call = Math.floor(i / EVENTS_PER_CALL);
  const step = i % EVENTS_PER_CALL;
  const events = ['start_call', 'receive_call', 'accept_call', 'call_accepted', 'call_end', 'call_end'];
  const callee = step === 1 || step === 2 || step === 5;
  return JSON.stringify({
    UserId: callee ? `callee-${call}` : `caller-${call}`, Role: callee ? 'callee' : 'caller', RoomId: `room-${call}`,
    TotalNum: 2, MediaType: call % 3 ? 'audio' : 'video', CallType: 'single', CallId: `bench-${call}`,
    Event: events[step], CallResult: '', EventTime: 1_704_695_566 + call + step,
  });
}

async function scenario(adminUrl: string, label: string, batchMax: number) {
  const { url, dataSource, drop } = await freshDatabase(adminUrl, `calltrail_bench_${batchMax}_${process.pid}`);
  // The spool is on, as by default, in a folder of its own.
  const spoolDir = await mkdtemp(join(tmpdir(), 'calltrail-bench-spool-'));
  const config = loadConfig({ LOG_LEVEL: 'silent', INGEST_BATCH_MAX: String(batchMax), INGEST_TIMEOUT_MS: '60000', SPOOL_DIR: spoolDir });
  const app = await createApp(config, { db: { dataSource, ingestDataSource: dataSource, url, isReady: async () => true } });
  await app.server.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.server.address() as { port: number }).port;
  const target = `http://127.0.0.1:${port}/callback?sdkappid=1400000001&contenttype=json`;
  let next = 0;
  let failures = 0;
  const worker = async () => {
    while (next < TOTAL) {
      const i = next++;
      const res = await fetch(target, { method: 'POST', body: body(i), headers: { 'content-type': 'application/json' } });
      await res.arrayBuffer();
      if (res.status !== 200) failures++;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = (performance.now() - started) / 1000;
  const [{ n }] = await dataSource.query('SELECT count(*)::int AS n FROM call_events');
  await app.close();
  await rm(spoolDir, { recursive: true, force: true });
  await drop();
  const perSecond = TOTAL / seconds;
  console.log(`${label.padEnd(34)} ${perSecond.toFixed(0).padStart(7)} callbacks/s  (${TOTAL} in ${seconds.toFixed(2)} s, stored ${n}, non-200 ${failures})`);
  return perSecond;
}

run(() =>
  withPostgres(async (adminUrl, where) => {
    console.log(`ingest bench: ${TOTAL} callbacks, concurrency ${CONCURRENCY}, ${EVENTS_PER_CALL} events per call, ${where}`);
    const baseline = await scenario(adminUrl, 'baseline: one transaction each', 1);
    const grouped = await scenario(adminUrl, 'group commit (batch up to 500)', 500);
    console.log(`group commit / baseline = ${(grouped / baseline).toFixed(2)}x`);
  }),
);
