// Flat config. Two rules carry most of the weight here: a forgotten `await` on an activity or a
// Docker call is a real bug (no-floating-promises), and workflow code must stay deterministic, so
// the whole src/workflows/ folder (not a file-name pattern), and the pure folders it imports
// (src/procedures/, src/common/), are barred from Node built-ins and I/O.
import tseslint from 'typescript-eslint';

const nodeBuiltins = [
  'fs', 'fs/promises', 'path', 'os', 'child_process', 'http', 'https', 'net', 'crypto', 'dns',
  'stream', 'timers', 'worker_threads', 'process', 'util', 'events', 'url', 'zlib', 'tls', 'dgram',
];
const ioPackages = ['dockerode', 'pg', 'nodemailer', 'yaml', '@temporalio/client', '@temporalio/worker', '@temporalio/activity'];

export default tseslint.config(
  { ignores: ['node_modules/**', '.stack/**', 'test/fixtures/nocobase-standin/**', 'deploy/kubernetes/maintenance-page/**', 'eslint.config.mjs'] },
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // node:test's describe/it return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': ['error', {
        allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'before', 'after', 'beforeEach', 'afterEach'] }],
      }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/workflows/**/*.ts', 'src/procedures/**/*.ts', 'src/common/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [
          ...nodeBuiltins.flatMap((name) => [name, `node:${name}`]).map((name) => ({
            name, message: 'Workflow code runs in a deterministic sandbox: no Node built-ins.',
          })),
          ...ioPackages.map((name) => ({
            name, message: 'Workflow code must not do I/O: call an activity instead.', allowTypeImports: true,
          })),
        ],
        patterns: [{
          group: ['../activities', '../activities/*', '../../src/activities/*', '../adapters/*', '../worker/*', '../client/*'],
          message: 'Workflows import activity *types* only (import type).', allowTypeImports: true,
        }],
      }],
      'no-restricted-globals': ['error',
        { name: 'setInterval', message: 'Use workflow sleep() or condition() instead.' },
        { name: 'process', message: 'No process state in workflows.' },
      ],
    },
  },
  {
    // Adapters know one external system and take progress callbacks; only activity factories
    // may read the activity context, so an adapter works in a stack script or a test as well.
    files: ['src/adapters/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [{ name: '@temporalio/activity', message: 'Adapters take hooks (src/adapters/hooks.ts) instead of reading the activity context.', allowTypeImports: true }],
        patterns: [{ group: ['../../activities', '../../activities/*', '../../workflows/*'], message: 'Adapters sit below activities and workflows.' }],
      }],
    },
  },
);
