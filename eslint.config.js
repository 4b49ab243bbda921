// ESLint flat config. Module boundaries of DESIGN.md are enforced with no-restricted-imports.
const js = require('@eslint/js');
const tseslint = require('typescript-eslint');

/** A folder may not import these sibling folders (regexes on the import path). */
const boundaries = {
  domain: { folders: ['db', 'ingest', 'calls', 'graphql', 'live', 'http'], packages: ['typeorm', 'pg', 'fastify', 'graphql', 'type-graphql'] },
  db: { folders: ['ingest', 'calls', 'graphql', 'live', 'http'], packages: [] },
  ingest: { folders: ['calls', 'graphql', 'live', 'http'], packages: ['graphql', 'type-graphql', 'fastify'] },
  calls: { folders: ['ingest', 'graphql', 'live', 'http'], packages: ['graphql', 'type-graphql', 'fastify'] },
  live: { folders: ['ingest', 'graphql', 'http'], packages: ['fastify'] },
  graphql: { folders: ['ingest', 'http'], packages: ['fastify'] },
};

const boundaryRules = Object.entries(boundaries).map(([folder, { folders, packages }]) => ({
  files: [`src/${folder}/**/*.ts`],
  ignores: ['**/*.spec.ts', '**/*.cli.ts'],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [
          ...folders.map((f) => ({ regex: `^\\.\\.?/(\\.\\./)*${f}(/|$)`, message: `src/${folder} may not import src/${f} (DESIGN.md, Modules).` })),
          ...packages.map((p) => ({ regex: `^${p}(/|$)`, message: `src/${folder} may not import ${p} (DESIGN.md, Modules).` })),
        ],
      },
    ],
  },
}));

module.exports = tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.calltrail*/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', require: 'readonly', module: 'writable', __dirname: 'readonly', Buffer: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      '@typescript-eslint/no-require-imports': 'off',
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'Only src/config.ts reads process.env.' }],
    },
  },
  { files: ['src/config.ts', 'test/**', 'bench/**', 'scripts/**', 'jest.config.js'], rules: { 'no-restricted-properties': 'off' } },
  { files: ['test/**', '**/*.spec.ts'], rules: { '@typescript-eslint/no-non-null-assertion': 'off', '@typescript-eslint/no-explicit-any': 'off' } },
  ...boundaryRules,
);
