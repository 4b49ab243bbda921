// ESLint flat config. The module boundaries of docs/design.md (Modules) are enforced with no-restricted-imports.
const js = require('@eslint/js');
const tseslint = require('typescript-eslint');

/** A folder may not import these sibling folders (regexes on the import path). */
const READ_ONLY_PACKAGES = ['graphql', 'type-graphql', 'fastify'];
const boundaries = {
  domain: { folders: ['db', 'ingest', 'quarantine', 'api-keys', 'calls', 'graphql', 'live', 'http', 'cli'], packages: ['typeorm', 'pg', ...READ_ONLY_PACKAGES] },
  spool: { folders: ['domain', 'db', 'ingest', 'quarantine', 'api-keys', 'calls', 'graphql', 'live', 'http', 'cli'], packages: ['typeorm', 'pg', ...READ_ONLY_PACKAGES] },
  db: { folders: ['ingest', 'quarantine', 'api-keys', 'calls', 'graphql', 'live', 'http', 'cli'], packages: [] },
  quarantine: { folders: ['ingest', 'api-keys', 'calls', 'graphql', 'live', 'http', 'cli'], packages: READ_ONLY_PACKAGES },
  'api-keys': { folders: ['ingest', 'quarantine', 'calls', 'graphql', 'live', 'http', 'cli'], packages: READ_ONLY_PACKAGES },
  ingest: { folders: ['api-keys', 'calls', 'graphql', 'live', 'http', 'cli'], packages: READ_ONLY_PACKAGES },
  calls: { folders: ['ingest', 'quarantine', 'api-keys', 'graphql', 'live', 'http', 'cli'], packages: READ_ONLY_PACKAGES },
  live: { folders: ['ingest', 'quarantine', 'api-keys', 'graphql', 'http', 'cli'], packages: ['fastify'] },
  graphql: { folders: ['ingest', 'http', 'cli'], packages: ['fastify'] },
  http: { folders: ['cli'], packages: [] },
  simulator: { folders: ['spool', 'db', 'ingest', 'quarantine', 'api-keys', 'calls', 'graphql', 'live', 'http', 'cli'], packages: ['typeorm', 'pg', ...READ_ONLY_PACKAGES] },
  bi: { folders: ['spool', 'ingest', 'quarantine', 'api-keys', 'calls', 'graphql', 'live', 'http', 'cli', 'simulator'], packages: READ_ONLY_PACKAGES },
  records: { folders: ['spool', 'simulator', 'bi', 'quarantine', 'api-keys', 'calls', 'graphql', 'live', 'http', 'cli'], packages: READ_ONLY_PACKAGES },
};

const boundaryRules = Object.entries(boundaries).map(([folder, { folders, packages }]) => ({
  files: [`src/${folder}/**/*.ts`],
  ignores: ['**/*.spec.ts'],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [
          ...folders.map((f) => ({ regex: `^\\.\\.?/(\\.\\./)*${f}(/|$)`, message: `src/${folder} may not import src/${f} (docs/design.md, Modules).` })),
          ...packages.map((p) => ({ regex: `^${p}(/|$)`, message: `src/${folder} may not import ${p} (docs/design.md, Modules).` })),
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
  {
    // The console is a browser page over the public GraphQL API: nothing from the server's code.
    files: ['console/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ regex: '^(\\.\\./)+(src|test|migrations)(/|$)', message: 'console/ uses the public GraphQL API only (docs/api.md), not the server code.' }] }] },
  },
);
