import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../../src/config';
import { createApp, type CalltrailApp } from '../../src/http/app';
import { openTestDatabase, type TestDatabase } from './database';

export interface TestApp {
  readonly app: CalltrailApp;
  readonly db: TestDatabase;
  readonly config: Config;
  /** e.g. `http://127.0.0.1:41234` */
  readonly baseUrl: string;
  stop(): Promise<void>;
}

/** The real app on port 0 over a fresh database; `env` overrides the test environment. */
export async function startTestApp(env: Record<string, string> = {}, db?: TestDatabase): Promise<TestApp> {
  const database = db ?? (await openTestDatabase());
  // Each app its own spool folder: one process per spool, and nothing left behind.
  const spoolDir = env.SPOOL_DIR ?? mkdtempSync(join(tmpdir(), 'calltrail-spool-'));
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', PORT: '0', HOST: '127.0.0.1', SPOOL_DIR: spoolDir, ...env });
  const app = await createApp(config, { db: database });
  await app.server.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.server.address();
  if (address === null || typeof address === 'string') throw new Error('test app: expected a TCP address');
  return {
    app,
    db: database,
    config,
    baseUrl: `http://127.0.0.1:${address.port}`,
    async stop() {
      await app.close();
      if (!db) await database.drop();
      if (env.SPOOL_DIR === undefined) rmSync(spoolDir, { recursive: true, force: true });
    },
  };
}
