import 'reflect-metadata';
import { loadConfig } from '../config';
import { openDatabase } from '../db/database';
import { IngestRepository } from './ingest.repository';

/** `npm run rebuild-projection`: recomputes calls and call_participants from call_events. */
async function main(): Promise<void> {
  const db = await openDatabase(loadConfig());
  try {
    const started = Date.now();
    const calls = await new IngestRepository(db.dataSource).rebuildProjection(500, (done) => console.error(`refolded ${done} calls`));
    console.log(`rebuilt the projection of ${calls} calls in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    await db.close();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
