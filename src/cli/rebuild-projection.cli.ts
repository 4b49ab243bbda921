import { IngestRepository } from '../ingest/ingest.repository';
import { runCli } from './run-cli';

/** `npm run rebuild-projection`: recomputes calls and call_participants from call_events. */
runCli(async (db) => {
  const started = Date.now();
  const calls = await new IngestRepository(db.dataSource).rebuildProjection(500, (done) => console.error(`refolded ${done} calls`));
  console.log(`rebuilt the projection of ${calls} calls in ${((Date.now() - started) / 1000).toFixed(1)} s`);
});
