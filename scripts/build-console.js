#!/usr/bin/env node
// Bundles the console (console/src/main.ts and its static files) into dist/console, served at /console.
const { copyFileSync, mkdirSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const source = join(root, 'console');
const out = join(root, 'dist', 'console');
const STATIC_FILES = ['index.html', 'console.css', 'favicon.svg'];

function buildConsole() {
  mkdirSync(out, { recursive: true });
  require('esbuild').buildSync({
    entryPoints: [join(source, 'src', 'main.ts')],
    outfile: join(out, 'console.js'),
    tsconfig: join(source, 'tsconfig.json'),
    bundle: true,
    minify: true,
    format: 'iife',
    platform: 'browser',
    target: ['es2020'],
    legalComments: 'none',
    logLevel: 'warning',
  });
  for (const file of STATIC_FILES) copyFileSync(join(source, file), join(out, file));
}

module.exports = { buildConsole };
if (require.main === module) buildConsole();
