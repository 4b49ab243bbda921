import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { freePort } from '../../src/db/free-port';

/** A graphql-ws client for `baseUrl` authenticated with `key` (no retries: tests see every close). */
export function wsClient(baseUrl: string, key: string | null, onClose?: (code: number, reason: string) => void): Client {
  return createClient({
    url: `${baseUrl.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: key === null ? {} : { authorization: `Bearer ${key}` },
    retryAttempts: 0,
    lazy: false,
    on: { closed: (e) => onClose?.((e as { code: number }).code, String((e as { reason?: string }).reason ?? '')) },
    onNonLazyError: () => undefined,
  });
}

/** A running subscription that collects its payloads. */
export interface Collector<T> {
  readonly items: T[];
  readonly errors: unknown[];
  /** Resolves once at least `n` items arrived (rejects after `ms`). */
  waitFor(n: number, ms?: number): Promise<T[]>;
  stop(): void;
}

export function collect<T = any>(client: Client, query: string, variables: Record<string, unknown> = {}, pick?: (data: any) => T): Collector<T> {
  const items: T[] = [];
  const errors: unknown[] = [];
  const waiters: (() => void)[] = [];
  const stop = client.subscribe<any>(
    { query, variables },
    {
      next: (result) => {
        if (result.errors) errors.push(...result.errors);
        if (result.data) items.push(pick ? pick(result.data) : (Object.values(result.data)[0] as T));
        waiters.forEach((w) => w());
      },
      error: (err) => {
        errors.push(err);
        waiters.forEach((w) => w());
      },
      complete: () => undefined,
    },
  );
  return {
    items,
    errors,
    stop,
    waitFor(n, ms = 15000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`expected ${n} items within ${ms} ms, got ${items.length} (errors: ${JSON.stringify(errors)})`)), ms);
        const check = () => {
          if (items.length >= n) {
            clearTimeout(timer);
            resolve(items);
          }
        };
        waiters.push(check);
        check();
      });
    },
  };
}

/** Waits `ms` (to show that nothing more arrives). */
export const settle = (ms = 400) => new Promise((r) => setTimeout(r, ms));

/** A second calltrail process (the real entry point, via tsx) on the same database. */
export async function startProcess(
  env: Record<string, string>,
  options: { output?: (line: string) => void } = {},
): Promise<{ baseUrl: string; child: ChildProcess; stop(): Promise<void> }> {
  // A given PORT is kept (a test that restarts the process keeps its address).
  const port = env.PORT ? Number(env.PORT) : await freePort();
  // Its own spool folder unless told (one process per spool), removed when it stops.
  const spoolDir = env.SPOOL_DIR ?? mkdtempSync(join(tmpdir(), 'calltrail-spool-'));
  // `node --import tsx`, not the tsx CLI: the child is calltrail itself, so a test's kill -9 reaches it.
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, '../../src/main.ts')], {
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn', NODE_ENV: 'test', SPOOL_DIR: spoolDir, ...env },
    stdio: ['ignore', options.output ? 'pipe' : 'inherit', options.output ? 'pipe' : 'inherit'],
  });
  if (options.output) {
    for (const stream of [child.stdout!, child.stderr!]) {
      let rest = '';
      stream.on('data', (chunk: Buffer) => {
        const lines = (rest + chunk.toString()).split('\n');
        rest = lines.pop() ?? '';
        lines.forEach(options.output!);
      });
    }
  }
  const baseUrl = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 150; i++) {
    if (child.exitCode !== null) throw new Error(`calltrail process exited with ${child.exitCode}`);
    const ok = await fetch(`${baseUrl}/readyz`).then((r) => r.ok, () => false);
    if (ok) break;
    await settle(100);
  }
  return {
    baseUrl,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        const done = () => {
          if (env.SPOOL_DIR === undefined) rmSync(spoolDir, { recursive: true, force: true });
          resolve();
        };
        if (child.exitCode !== null || child.signalCode !== null) return done();
        child.once('exit', done);
        child.kill('SIGTERM');
      }),
  };
}
