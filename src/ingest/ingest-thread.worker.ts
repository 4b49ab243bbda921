/**
 * The ingest thread (src/ingest/ingest-thread.ts): a pool of its own on the primary, and the same
 * IngestRepository and PartitionGuard the main thread would use, answering one message per batch.
 * Nothing else runs on this event loop, so a batch's round trips are answered as soon as PostgreSQL is.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createDataSource, ingestPoolOptions } from '../db/database';
import { poolStats } from '../db/pool-stats';
import { GUARD_FAILED, ingestRepositoryOn } from './ingest.repository';
import { POOL_REPORT_MS, toWire, type IngestThreadOptions, type ThreadMessage, type WriteRequest } from './ingest-thread';

const options = workerData as IngestThreadOptions;
const port = parentPort!;
const send = (m: ThreadMessage) => port.postMessage(m);

const dataSource = createDataSource(options.url, ingestPoolOptions(options.poolSize));
const repository = ingestRepositoryOn(dataSource, options.callMaxEvents, options.eventPartition, (err) => send({ kind: 'log', message: GUARD_FAILED, error: toWire(err) }));

/** Opens the pool at the first batch, and again after a failed opening (PostgreSQL was down): the batch fails meanwhile. */
let opening: Promise<unknown> | null = null;
async function open(): Promise<void> {
  if (dataSource.isInitialized) return;
  opening ??= dataSource.initialize().finally(() => (opening = null));
  await opening;
}

void open().catch(() => undefined); // at once, so the first batch finds the pool open; a batch tries again if this failed

let inFlight = 0;
let closing = false;

async function write(request: WriteRequest): Promise<void> {
  inFlight++;
  try {
    await open();
    const results = await repository.writeBatch(request.events);
    send({ kind: 'reply', id: request.id, results, pool: pool(), foldCache: repository.foldCacheSize() });
  } catch (err) {
    send({ kind: 'reply', id: request.id, error: toWire(err), pool: pool(), foldCache: repository.foldCacheSize() });
  } finally {
    inFlight--;
    if (closing && inFlight === 0) void shutDown();
  }
}

/** The pool's state; its size before it is open. */
const pool = () => (dataSource.isInitialized ? poolStats(dataSource) : { inUse: 0, idle: 0, waiting: 0, max: options.poolSize });
const report = setInterval(() => send({ kind: 'pool', pool: pool(), foldCache: repository.foldCacheSize() }), POOL_REPORT_MS);

async function shutDown(): Promise<void> {
  clearInterval(report);
  if (dataSource.isInitialized) await dataSource.destroy().catch(() => undefined);
  port.close();
}

send({ kind: 'ready' });
port.on('message', (m: WriteRequest | 'close') => {
  if (m !== 'close') return void write(m);
  closing = true;
  if (inFlight === 0) void shutDown();
});
