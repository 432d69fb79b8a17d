import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'infra-tests/**/*.test.ts'],
    // Integration suites start real services (S3, Kinesis, Kafka, DuckDB); they need room.
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: 'forks',
    // 2 cores: more workers only contend with the services under test.
    maxWorkers: 2,
    // The lockfile pins an SDK release that supports Node.js 20; silence its upgrade reminder.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
});
