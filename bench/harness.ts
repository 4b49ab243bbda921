/**
 * Child processes for the reliability benches (bench/outage.bench.ts, bench/edges.bench.ts): a
 * PostgreSQL of the bench's own that it can kill -9 and restart, and calltrail itself as a separate
 * process (`node --import tsx src/main.ts`) that it can kill -9 and restart like a supervisor would.
 *
 * Nothing outlives the bench: every child is spawned in a process group of its own and is stopped
 * in `cleanup()` (normal end, error, SIGINT/SIGTERM), and by a synchronous last resort on `exit`.
 * If the bench itself is killed -9, a small watchdog shell (started first) notices within a second
 * and kills the groups, stops the postmaster and removes the temporary folder.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, chmodSync, existsSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { freePort } from '../src/db/free-port';

export { freePort };

/** The repository the bench file lives in: the tree whose calltrail is measured. */
export const REPO = resolve(__dirname, '..');

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const alive = (pid: number | undefined | null): boolean => {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
/** Waits (bounded) until `pred` holds; returns whether it did. */
export async function waitFor(pred: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 50): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  for (let i = 0; i < 1_000_000 && Date.now() < until; i++) {
    if (await pred()) return true;
    await sleep(everyMs);
  }
  return pred();
}

/** A temporary folder for the bench and the registry of the process groups it started. */
export class Scratch {
  readonly dir: string;
  private readonly groups: string;
  private readonly cleanups: (() => Promise<void>)[] = [];
  private readonly lastResorts: (() => void)[] = [];
  private cleaned = false;

  /** True once cleanup started: nothing may be started any more. */
  get closing(): boolean {
    return this.cleaned;
  }

  constructor(label: string) {
    this.dir = mkdtempSync(join(tmpdir(), `calltrail-${label}-`));
    chmodSync(this.dir, 0o755); // the embedded server runs as the postgres user when we are root
    this.groups = join(this.dir, 'process-groups');
    writeFileSync(this.groups, '');
    this.startWatchdog();
    const onSignal = (signal: NodeJS.Signals) => {
      console.error(`\n${signal}: stopping the children`);
      void this.cleanup().finally(() => process.exit(130));
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    process.once('exit', () => this.lastResort());
  }

  /** Remembers a process group (the pid of a detached child) for the watchdog. */
  registerGroup(pid: number): void {
    appendFileSync(this.groups, `${pid}\n`);
  }

  onCleanup(fn: () => Promise<void>, lastResort: () => void): void {
    this.cleanups.unshift(fn);
    this.lastResorts.unshift(lastResort);
  }

  /** Stops every child (newest first), then removes the folder. Safe to call twice. */
  async cleanup(): Promise<void> {
    if (this.cleaned) return;
    this.cleaned = true;
    for (const fn of this.cleanups) await fn().catch((err: unknown) => console.error('cleanup:', err));
    this.lastResort();
    writeFileSync(this.groups, ''); // all stopped: the watchdog has nothing to kill
    rmSync(this.dir, { recursive: true, force: true });
  }

  private lastResort(): void {
    for (const fn of this.lastResorts) {
      try {
        fn();
      } catch {
        /* already gone */
      }
    }
  }

  /**
   * A detached shell that waits (at most 4 hours) for this process to disappear, then kills the
   * registered process groups, stops the postmaster of the folder and removes the folder.
   */
  private startWatchdog(): void {
    const script = `
      i=0
      while kill -0 ${process.pid} 2>/dev/null && [ $i -lt 14400 ]; do sleep 1; i=$((i+1)); done
      for g in $(cat '${this.groups}' 2>/dev/null); do kill -KILL -$g 2>/dev/null; done
      pm=$(head -n 1 '${this.dir}/pg/postmaster.pid' 2>/dev/null)
      if [ -n "$pm" ] && kill -0 "$pm" 2>/dev/null; then
        kill -INT "$pm" 2>/dev/null
        j=0; while kill -0 "$pm" 2>/dev/null && [ $j -lt 20 ]; do sleep 0.5; j=$((j+1)); done
        kill -9 "$pm" 2>/dev/null
      fi
      rm -rf '${this.dir}'
    `;
    // It ends by itself within a second of the bench (with nothing to do after a clean exit).
    spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' }).unref();
  }
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    /* gone */
  }
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));
}

/** Direct children of `pid` (Linux), e.g. the backends of a postmaster. */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** The PostgreSQL version string of a server. */
export async function serverVersion(url: string): Promise<string> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ v: string }>("SELECT current_setting('server_version') AS v");
    return rows[0].v;
  } finally {
    await c.end();
  }
}

/** Runs one statement on a fresh connection (2 s connect timeout). */
export async function sql<T extends Record<string, unknown>>(url: string, text: string, params: unknown[] = []): Promise<T[]> {
  const c = new Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  await c.connect();
  try {
    return (await c.query<T>(text, params)).rows;
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** A PostgreSQL cluster run by test/support/embedded-pg-server.mjs in `<scratch>/pg`. */
export class BenchPostgres {
  private wrapper: ChildProcess | null = null;
  private constructor(
    private readonly scratch: Scratch,
    readonly port: number,
  ) {}

  static async start(scratch: Scratch): Promise<BenchPostgres> {
    const pg = new BenchPostgres(scratch, await freePort());
    scratch.onCleanup(
      () => pg.shutdown(),
      () => pg.killNow(),
    );
    await pg.start();
    return pg;
  }

  get adminUrl(): string {
    return `postgres://postgres:calltrail@127.0.0.1:${this.port}/postgres`;
  }

  url(database: string): string {
    return `postgres://postgres:calltrail@127.0.0.1:${this.port}/${database}`;
  }

  get running(): boolean {
    return this.wrapper !== null && this.wrapper.exitCode === null && this.wrapper.signalCode === null;
  }

  /** The postmaster's pid, from `<dir>/pg/postmaster.pid` (null when none is running). */
  postmasterPid(): number | null {
    try {
      const pid = Number(readFileSync(join(this.scratch.dir, 'pg', 'postmaster.pid'), 'utf8').split('\n', 1)[0]);
      return alive(pid) ? pid : null;
    } catch {
      return null;
    }
  }

  /** Starts (or restarts, after a crash: recovery included) the cluster on the same port; resolves when it accepts connections. */
  async start(timeoutMs = 120_000): Promise<void> {
    if (this.running) throw new Error('PostgreSQL is already running');
    if (this.scratch.closing) throw new Error('the bench is stopping');
    const script = join(REPO, 'test/support/embedded-pg-server.mjs');
    const child = spawn(process.execPath, [script, this.scratch.dir, String(this.port)], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    this.scratch.registerGroup(child.pid!);
    this.wrapper = child;
    let stderr = '';
    child.stderr!.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
    await new Promise<void>((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`PostgreSQL not ready within ${timeoutMs} ms: ${stderr}`)), timeoutMs);
      child.stdout!.on('data', (b: Buffer) => {
        if (b.toString().includes('ready')) {
          clearTimeout(timer);
          ok();
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        fail(new Error(`embedded PostgreSQL exited (${code ?? signal}) before it was ready: ${stderr}`));
      });
    });
    // It may have been ready before a crash left the wrapper with nothing to do; keep the pipes drained.
    child.stdout!.resume();
  }

  /**
   * kill -9 of the postmaster (a crash: no shutdown checkpoint, backends orphaned; they exit when
   * they notice the postmaster is gone). Resolves once no process of the old cluster is left, so
   * `start()` can reuse the folder and the port.
   */
  async crash(): Promise<void> {
    const pm = this.postmasterPid();
    if (pm === null) throw new Error('no postmaster to kill');
    const backends = childrenOf(pm);
    process.kill(pm, 'SIGKILL');
    // The wrapper has nothing left to run, but does not always notice: end it too.
    const wrapper = this.wrapper;
    killGroup(wrapper?.pid, 'SIGKILL');
    if (wrapper) await exited(wrapper);
    if (!(await waitFor(() => backends.every((p) => !alive(p)), 10_000))) {
      for (const p of backends) if (alive(p)) process.kill(p, 'SIGKILL');
      await waitFor(() => backends.every((p) => !alive(p)), 5000);
    }
    this.wrapper = null;
  }

  /** SIGTERM to the embedded-pg-server child: a clean (fast) shutdown. */
  async stop(timeoutMs = 30_000): Promise<void> {
    const wrapper = this.wrapper;
    if (!wrapper || !this.running) return;
    wrapper.kill('SIGTERM');
    if (!(await waitFor(() => !this.running, timeoutMs))) {
      const pm = this.postmasterPid();
      if (pm !== null) await this.crash();
      else killGroup(wrapper.pid, 'SIGKILL');
    }
    await exited(wrapper);
    await waitFor(() => this.postmasterPid() === null, 10_000);
    this.wrapper = null;
  }

  private async shutdown(): Promise<void> {
    await this.stop();
    const pm = this.postmasterPid(); // e.g. a postmaster whose wrapper died
    if (pm !== null) {
      process.kill(pm, 'SIGINT');
      if (!(await waitFor(() => !alive(pm), 15_000))) process.kill(pm, 'SIGKILL');
    }
  }

  private killNow(): void {
    const pm = this.postmasterPid();
    if (pm !== null) process.kill(pm, 'SIGINT'); // fast shutdown: it ends its backends itself
    if (this.wrapper?.pid && alive(this.wrapper.pid)) process.kill(this.wrapper.pid, 'SIGKILL');
  }
}

/** A PostgreSQL database for calltrail: a fresh one on the bench's own cluster, or on BENCH_PG_URL (created, then dropped). */
export async function createDatabase(adminUrl: string, name: string): Promise<string> {
  await sql(adminUrl, `DROP DATABASE IF EXISTS "${name}"`);
  await sql(adminUrl, `CREATE DATABASE "${name}"`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  await sql(adminUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
}

/** Variables passed to calltrail from the bench's environment, when set. */
/** Node flags for calltrail's process, e.g. APP_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" (written when it exits on SIGTERM). */
const APP_NODE_ARGS = (process.env.APP_NODE_ARGS ?? '').split(' ').filter(Boolean);
/**
 * What calltrail runs from: `src` (default: `node --import tsx src/main.ts`) or `dist` (`node dist/src/main.js`,
 * as `npm start` and the image run it; build first with `npm run build`). Memory figures differ: under tsx,
 * every thread also holds the TypeScript compiler's modules.
 */
const APP_ENTRY = process.env.APP_ENTRY ?? 'src';
if (APP_ENTRY !== 'src' && APP_ENTRY !== 'dist') throw new Error(`APP_ENTRY: expected src or dist, got ${APP_ENTRY}`);
const APP_ARGS = APP_ENTRY === 'dist' ? ['dist/src/main.js'] : ['--import', 'tsx', 'src/main.ts'];
const PASS_THROUGH = /^(SPOOL|GRAPHQL_[A-Z_]+|SPOOL_DIR|SPOOL_MAX_MB|INGEST_[A-Z_]+|DB_[A-Z_]+|HTTP_[A-Z_]+|QUARANTINE_[A-Z_]+|CALLBACK_[A-Z_]+|LIVE_[A-Z_]+|NODE_ENV)$/;

export interface AppOptions {
  readonly databaseUrl: string;
  /** Extra variables; they win over the pass-through ones. */
  readonly env?: Record<string, string>;
  /** Restart it (after `restartDelayMs`) whenever it exits without being asked to, like a supervisor. */
  readonly supervise?: boolean;
  readonly restartDelayMs?: number;
}

/** calltrail as a child process: `node --import tsx src/main.ts` in the measured tree (or its build: APP_ENTRY). */
export class BenchApp {
  private child: ChildProcess | null = null;
  private stopping = false;
  private restartTimer: NodeJS.Timeout | null = null;
  /** Exits nobody asked for (a crash, or a failed start while PostgreSQL is down). */
  unexpectedExits = 0;
  /** Starts after the first one (ours after kill -9, and the supervisor's). */
  restarts = 0;
  readonly env: Record<string, string>;
  readonly log: string;

  private constructor(
    private readonly scratch: Scratch,
    readonly port: number,
    private readonly options: AppOptions,
  ) {
    const passed = Object.fromEntries(Object.entries(process.env).filter(([k, v]) => PASS_THROUGH.test(k) && v !== undefined)) as Record<string, string>;
    this.env = {
      ...passed,
      DATABASE_URL: options.databaseUrl,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: process.env.APP_LOG_LEVEL ?? 'warn',
      SDKAPPIDS: '1400000001',
      DATA_DIR: join(scratch.dir, 'app-data'),
      SPOOL_DIR: process.env.SPOOL_DIR ?? join(scratch.dir, 'app-data', 'spool'),
      ...options.env,
    };
    this.log = join(scratch.dir, 'calltrail.log');
  }

  static async start(scratch: Scratch, options: AppOptions): Promise<BenchApp> {
    const app = new BenchApp(scratch, await freePort(), options);
    scratch.onCleanup(
      () => app.stop(),
      () => killGroup(app.child?.pid, 'SIGKILL'),
    );
    app.spawn();
    return app;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  private spawn(): void {
    if (this.scratch.closing) return;
    const fd = openSync(this.log, 'a');
    const child = spawn(process.execPath, [...APP_NODE_ARGS, ...APP_ARGS], {
      cwd: REPO,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...this.env },
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    this.scratch.registerGroup(child.pid!);
    this.child = child;
    child.once('exit', () => {
      if (this.child !== child || this.stopping) return;
      this.unexpectedExits++;
      if (this.options.supervise && this.restarts < 100) this.scheduleRestart(this.options.restartDelayMs ?? 2000);
    });
  }

  private scheduleRestart(ms: number): void {
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (this.stopping || this.running) return;
      this.restarts++;
      this.spawn();
    }, ms);
  }

  /** Resolves when /readyz answers 200 (bounded). */
  async waitReady(timeoutMs = 90_000): Promise<void> {
    const ok = await waitFor(async () => (await this.ready(1000)) === 200, timeoutMs, 200);
    if (!ok) throw new Error(`calltrail not ready within ${timeoutMs} ms; log:\n${this.tail()}`);
  }

  /** The /readyz status, or 0 when nothing answers within `timeoutMs`. */
  async ready(timeoutMs: number): Promise<number> {
    try {
      const res = await fetch(`${this.baseUrl}/readyz`, { signal: AbortSignal.timeout(timeoutMs) });
      await res.arrayBuffer();
      return res.status;
    } catch {
      return 0;
    }
  }

  /** kill -9, then start it again after `restartAfterMs` (same env, same data folder and spool). */
  async crash(restartAfterMs: number): Promise<void> {
    const child = this.child;
    if (!child || !this.running) {
      // Down already (e.g. the supervisor is between two starts): just move its next start.
      if (this.restartTimer) clearTimeout(this.restartTimer);
      this.scheduleRestart(restartAfterMs);
      return;
    }
    this.child = null; // its exit is ours, not a crash
    process.kill(child.pid!, 'SIGKILL');
    await exited(child);
    killGroup(child.pid, 'SIGKILL');
    this.scheduleRestart(restartAfterMs);
  }

  /** SIGTERM (graceful: flush, close), SIGKILL after 15 s. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child) return;
    if (this.running) {
      child.kill('SIGTERM');
      if (!(await waitFor(() => !this.running, 15_000))) killGroup(child.pid, 'SIGKILL');
      await exited(child);
    }
    killGroup(child.pid, 'SIGKILL');
  }

  tail(lines = 30): string {
    try {
      return readFileSync(this.log, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }
}

/** The commit of the measured tree, with "+dirty" when it has uncommitted changes. */
export function treeVersion(): string {
  try {
    const commit = execFileSync('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['-C', REPO, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim() !== '';
    return `${commit}${dirty ? '+dirty' : ''}`;
  } catch {
    return 'unknown';
  }
}

/** Percentile (nearest rank) of unsorted numbers; NaN when empty. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** Prints rows as a Markdown table. */
export function printTable(header: string[], rows: (string | number)[][]): void {
  const line = (cells: (string | number)[]) => `| ${cells.map(String).join(' | ')} |`;
  console.log(line(header));
  console.log(line(header.map(() => '---')));
  for (const r of rows) console.log(line(r));
}

export const fmt = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');

/** Whether a path exists (for optional pieces of the measured tree). */
export const exists = (p: string) => existsSync(join(REPO, p));
