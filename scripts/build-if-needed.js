#!/usr/bin/env node
// Builds dist/ when it is missing or older than the sources, so `npm start` works right after `npm install`.
// The console (dist/console) likewise, from console/.
const { execFileSync } = require('node:child_process');
const { existsSync, statSync, readdirSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const entry = join(root, 'dist', 'src', 'main.js');

function newest(dir) {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const time = entry.isDirectory() ? newest(path) : statSync(path).mtimeMs;
    if (time > latest) latest = time;
  }
  return latest;
}

// An install of the build alone (the Docker image) has dist/ and no sources: nothing to build, nor to build with.
if (!existsSync(join(root, 'src'))) {
  if (existsSync(entry)) process.exit(0);
  console.error('calltrail: dist/ is missing and there is no src/ to build it from');
  process.exit(1);
}
const stale = !existsSync(entry) || Math.max(newest(join(root, 'src')), newest(join(root, 'migrations'))) > statSync(entry).mtimeMs;
if (stale) {
  console.error('calltrail: building (tsc)...');
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root });
}

const consoleEntry = join(root, 'dist', 'console', 'console.js');
if (!existsSync(consoleEntry) || newest(join(root, 'console')) > statSync(consoleEntry).mtimeMs) {
  console.error('calltrail: building the console (esbuild)...');
  require('./build-console').buildConsole();
}
