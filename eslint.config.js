// Lint rules: typescript-eslint's recommended set, plus the layering from
// docs/architecture.md ("the imports only go down"): core imports nothing of ours and no I/O.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'cdk.out/**', '.shardflow/**', 'bench/**', 'dist/**', '**/*.d.ts', 'local/ui/dist/**', 'test-artifacts/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', URL: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly', performance: 'readonly', AbortController: 'readonly', structuredClone: 'readonly', fetch: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['**/functions/**', '**/lib/**', '**/local/**', '**/cli/**', '**/pipelines/**'], message: 'core/ imports nothing of ours outside core (docs/architecture.md "Layers").' },
          { group: ['@aws-sdk/*', 'aws-cdk-lib', 'aws-cdk-lib/*', 'kafkajs', '@duckdb/*'], message: 'core/ is pure: no AWS SDK, CDK, Kafka or DuckDB.' },
          { group: ['fs', 'node:fs', 'fs/*', 'node:fs/*', 'net', 'node:net', 'http', 'node:http', 'child_process', 'node:child_process'], message: 'core/ does no I/O.' },
        ],
      }],
    },
  },
  {
    files: ['functions/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/lib/**', '**/local/**', '**/cli/**'], message: 'functions/ may import core only (docs/architecture.md "Layers").' }] }],
    },
  },
  {
    files: ['lib/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/local/**', '**/cli/**'], message: 'lib/ may import core definitions only (docs/architecture.md "Layers").' }] }],
    },
  },
  {
    files: ['local/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/lib/**', '**/cli/**'], message: 'local/ may import core and functions only (docs/architecture.md "Layers").' }] }],
    },
  },
);
