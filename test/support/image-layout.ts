import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdir, symlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** One instruction of a Dockerfile: `COPY --from=build /app/dist ./dist` is `{ op: 'COPY', args: [...] }`. */
export interface Instruction {
  readonly op: string;
  readonly args: readonly string[];
  /** The text after the instruction word, as written (JSON forms kept whole). */
  readonly text: string;
}

export interface Stage {
  readonly name: string;
  readonly instructions: readonly Instruction[];
}

/** The stages of a Dockerfile: comments dropped, `\` continuations joined. */
export function parseDockerfile(text: string): Stage[] {
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const stages: { name: string; instructions: Instruction[] }[] = [];
  for (const line of lines) {
    const [, op, rest] = /^(\S+)\s*(.*)$/.exec(line)!;
    const instruction = { op: op.toUpperCase(), args: rest.split(/\s+/).filter(Boolean), text: rest };
    if (instruction.op === 'FROM') stages.push({ name: /\bAS\s+(\S+)/i.exec(rest)?.[1] ?? String(stages.length), instructions: [] });
    else if (instruction.op !== 'ARG' || stages.length > 0) stages.at(-1)?.instructions.push(instruction);
  }
  return stages;
}

/** The working folder every stage must use, so `/app/...` paths map onto a stage's folder. */
const WORKDIR = '/app';

/**
 * Replays the stages of the Dockerfile without Docker: each stage is a folder standing for its `/app`.
 * COPY lines are copied as written (from the build context or an earlier stage); the RUN lines this
 * project uses are run as their local equivalents, and any other RUN fails the replay, so the test
 * must learn it. Stages run side by side, each waiting only for the stages it copies from, as BuildKit
 * does. Returns the folder of each stage and the last stage's ENV.
 */
export async function replayDockerfile(context: string, dockerfile: string, into: string): Promise<{ dirs: Record<string, string>; env: Record<string, string>; stages: Stage[] }> {
  const stages = parseDockerfile(readFileSync(join(context, dockerfile), 'utf8'));
  const dirs = Object.fromEntries(stages.map((s) => [s.name, join(into, s.name)]));
  const done: Record<string, Promise<Record<string, string>>> = {};
  for (const stage of stages) done[stage.name] = replayStage(stage, context, dirs, done);
  const env = await done[stages.at(-1)!.name];
  await Promise.all(Object.values(done));
  return { dirs, env, stages };
}

async function replayStage(stage: Stage, context: string, dirs: Record<string, string>, done: Record<string, Promise<unknown>>): Promise<Record<string, string>> {
  const dir = dirs[stage.name];
  await mkdir(dir, { recursive: true });
  const env: Record<string, string> = {};
  for (const ins of stage.instructions) {
    if (ins.op === 'WORKDIR' && ins.args[0] !== WORKDIR) throw new Error(`Dockerfile: expected WORKDIR ${WORKDIR}, got ${ins.args[0]}`);
    if (ins.op === 'ENV') for (const [, k, v] of ins.text.matchAll(/(\w+)=(\S+)/g)) env[k] = v;
    if (ins.op === 'COPY') await copy(ins, context, dirs, dir, done);
    if (ins.op === 'RUN') await run(ins.text, context, dir);
  }
  return env;
}

async function copy(ins: Instruction, context: string, dirs: Record<string, string>, dir: string, done: Record<string, Promise<unknown>>): Promise<void> {
  const from = ins.args.find((a) => a.startsWith('--from='))?.slice('--from='.length);
  if (from !== undefined) await done[from];
  const paths = ins.args.filter((a) => !a.startsWith('--'));
  const dest = join(dir, paths.at(-1)!);
  for (const source of paths.slice(0, -1)) {
    const src = from === undefined ? join(context, source) : join(dirs[from], source.replace(new RegExp(`^${WORKDIR}/?`), ''));
    if (!existsSync(src)) throw new Error(`Dockerfile: COPY ${ins.text}: expected ${src} to exist`);
    const target = paths.at(-1)!.endsWith('/') ? join(dest, basename(source)) : dest;
    // From an earlier stage (a temporary folder nothing writes to again): hard links, not 200 MB of copies.
    if (from === undefined) await cp(src, target, { recursive: true, verbatimSymlinks: true });
    else await exec('cp', ['-al', src, target]);
  }
}

/** The local equivalent of each RUN line the Dockerfile has. */
async function run(command: string, context: string, dir: string): Promise<void> {
  // At the lowest CPU priority: the tests running beside this one measure latencies.
  const sh = (cmd: string, args: string[]) => exec('nice', ['-n', '19', cmd, ...args], { cwd: dir, env: cleanEnv() });
  if (/^npm ci\b/.test(command) && command.includes('--omit=dev')) {
    // The production dependencies of the lock file, from npm's cache where it has them.
    await sh('npm', ['ci', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund']);
  } else if (/^npm ci\b/.test(command)) {
    await symlink(join(context, 'node_modules'), join(dir, 'node_modules')); // the same lock file, already installed
  } else if (command === 'npm run build') {
    await sh('npm', ['run', 'build']);
  } else if (/^mkdir -p \/app\/(\S+) && chown node:node \/app\/\S+$/.test(command)) {
    await mkdir(join(dir, /^mkdir -p \/app\/(\S+)/.exec(command)![1]), { recursive: true });
  } else {
    throw new Error(`Dockerfile: RUN ${command}: the image-layout test does not know this step yet`);
  }
}

/** The environment of a fresh shell: no npm_* variables of the test runner's own npm. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const keep = ['PATH', 'HOME', 'TMPDIR', 'LANG'];
  return { ...Object.fromEntries(keep.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]!])), ...extra };
}
