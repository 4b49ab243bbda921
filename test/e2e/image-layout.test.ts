import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/db/free-port';
import { makeCallback, postCallback, SDKAPPID } from '../support/callbacks';
import { openTestDatabase, type TestDatabase } from '../support/database';
import { gql } from '../support/graphql';
import { cleanEnv, replayDockerfile, type Stage } from '../support/image-layout';

const ROOT = join(__dirname, '../..');
let work: string;
let app: string;
let imageEnv: Record<string, string>;
let stages: Stage[];
let db: TestDatabase;

/** The environment of a container of the image, pointed at the test database. */
const containerEnv = (extra: Record<string, string> = {}) =>
  cleanEnv({ ...imageEnv, DATABASE_URL: db.url, DATA_DIR: join(app, '.calltrail'), SDKAPPIDS: SDKAPPID, LOG_LEVEL: 'warn', ...extra });

/** Every process of this test runs at the lowest CPU priority: the tests beside it measure latencies. */
const NICE = ['nice', '-n', '19'] as const;

/** `npm run ...` in the image's /app. */
function npm(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(NICE[0], [...NICE.slice(1), 'npm', ...args], { cwd: app, env: containerEnv(), timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Every process below `pid` (Linux /proc). */
function descendants(pid: number): number[] {
  const path = `/proc/${pid}/task/${pid}/children`;
  const children = existsSync(path) ? readFileSync(path, 'utf8').split(/\s+/).filter(Boolean).map(Number) : [];
  return children.flatMap((c) => [c, ...descendants(c)]);
}

const runtime = () => stages.at(-1)!;
const instruction = (op: string) => runtime().instructions.find((i) => i.op === op);

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'calltrail-image-'));
  const replay = await replayDockerfile(ROOT, 'Dockerfile', work);
  stages = replay.stages;
  imageEnv = replay.env;
  app = replay.dirs[runtime().name];
  db = await openTestDatabase();
}, 480_000);
afterAll(async () => {
  await db?.drop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the Docker image, replayed without Docker', () => {
  it('holds the built code and production dependencies only: no sources, no TypeScript', () => {
    expect(existsSync(join(app, 'dist/src/main.js'))).toBe(true);
    expect(existsSync(join(app, 'dist/migrations/index.js'))).toBe(true);
    expect(existsSync(join(app, 'src'))).toBe(false);
    expect(existsSync(join(app, 'node_modules/typescript'))).toBe(false);
    expect(existsSync(join(app, 'node_modules/pg'))).toBe(true);
  });

  it('finds the built file of every npm script that runs one', () => {
    const scripts = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')).scripts as Record<string, string>;
    const built = Object.values(scripts).flatMap((s) => [...s.matchAll(/node (\S+\.js)/g)].map((m) => m[1]));
    expect(built).toContain('dist/src/main.js');
    for (const file of built) expect({ file, exists: existsSync(join(app, file)) }).toEqual({ file, exists: true });
  });

  it('runs the README commands: migrate, apikey, rebuild-projection and bi', async () => {
    expect(await npm('run', 'migrate')).toMatchObject({ code: 0, stdout: expect.stringContaining('migrations applied') });
    const created = await npm('run', '--silent', 'apikey', '--', 'create', '--name', 'image', '--apps', SDKAPPID);
    expect(created.code).toBe(0);
    expect(created.stdout.trim()).toMatch(/^\S{16,}$/);
    expect(await npm('run', '--silent', 'apikey', '--', 'list')).toMatchObject({ code: 0, stdout: expect.stringContaining(`image\tapps=${SDKAPPID}`) });
    expect(await npm('run', 'rebuild-projection')).toMatchObject({ code: 0 });
    expect(await npm('run', '--silent', 'bi', '--', 'list')).toMatchObject({ code: 0 });
    expect(await npm('run', '--silent', 'apikey', '--', 'nonsense')).toMatchObject({ code: 1, stderr: expect.stringContaining('command: expected create, list or revoke') });
  }, 120_000);

  it('serves the API and the console with npm start, passes its HEALTHCHECK, and stops cleanly on SIGTERM', async () => {
    const key = (await npm('run', '--silent', 'apikey', '--', 'create', '--name', 'image-start', '--apps', SDKAPPID)).stdout.trim();
    const port = await freePort();
    const child: ChildProcess = spawn(NICE[0], [...NICE.slice(1), 'npm', 'start'], { cwd: app, env: containerEnv({ PORT: String(port), HOST: '127.0.0.1' }), stdio: 'inherit', detached: true });
    const baseUrl = `http://127.0.0.1:${port}`;
    try {
      let ready = false;
      for (let i = 0; i < 300 && !ready && child.exitCode === null; i++) {
        ready = await fetch(`${baseUrl}/readyz`).then((r) => r.ok, () => false);
        if (!ready) await new Promise((r) => setTimeout(r, 100));
      }
      expect(ready).toBe(true);
      expect((await postCallback(baseUrl, makeCallback({ CallId: 'image-1' }))).status).toBe(200);
      const reply = await gql(baseUrl, key, '{ calls(first: 5) { edges { node { callId } } } }');
      expect(reply.data?.calls.edges.map((e: { node: { callId: string } }) => e.node.callId)).toEqual(['image-1']);
      expect((await fetch(`${baseUrl}/console`)).status).toBe(200); // built into dist/ by the build stage

      const healthcheck = JSON.parse(/CMD\s+(\[.*\])$/.exec(instruction('HEALTHCHECK')!.text)![1]) as string[];
      const exit = await new Promise<number>((resolve) =>
        execFile(NICE[0], [...NICE.slice(1), ...healthcheck], { cwd: app, env: containerEnv({ PORT: String(port) }) }, (err) => resolve(err ? Number(err.code ?? 1) : 0)),
      );
      expect(exit).toBe(0);
    } finally {
      const exited = new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', (code) => resolve(code))));
      // As `docker stop` signals the container's node (its CMD): calltrail stops gracefully, exits 0, and so does npm.
      const server = descendants(child.pid!).find((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[1] === 'dist/src/main.js');
      process.kill(server ?? -child.pid!, 'SIGTERM');
      const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 15_000);
      expect(await exited).toBe(0);
      clearTimeout(timer);
    }
  }, 60_000);

  it('declares DATA_DIR as a volume, runs as an unprivileged user, and docker-compose.yml mounts that folder', () => {
    const volume = JSON.parse(instruction('VOLUME')!.text) as string[];
    expect(volume).toEqual([imageEnv.DATA_DIR]);
    expect(instruction('USER')!.args).toEqual(['node']);
    expect(stages[0].instructions).toBeDefined();
    const compose = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
    expect(compose).toContain(`calltrail-data:${imageEnv.DATA_DIR}`);
    expect(readFileSync(join(ROOT, 'Dockerfile'), 'utf8')).toMatch(/^ARG NODE_IMAGE=node:22-/m);
  });

  it('has docker-compose.yml set only variables the README documents', () => {
    const documented = new Set([...readFileSync(join(ROOT, 'README.md'), 'utf8').matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]));
    const compose = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
    const calltrail = compose.slice(compose.indexOf('\n  calltrail:'));
    const environment = calltrail.slice(calltrail.indexOf('environment:'), calltrail.indexOf('volumes:'));
    const names = [...environment.matchAll(/^ {6}([A-Z_]+):/gm)].map((m) => m[1]);
    expect(names).toContain('DATABASE_URL');
    expect(names.filter((n) => !documented.has(n))).toEqual([]);
  });
});
