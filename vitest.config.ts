import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    setupFiles: ['test/support/each-file.ts'],
    // The JSON report is what .ci/run counts; the default reporter is for people.
    reporters: ['default', ['json', { outputFile: 'test-results/results.json' }]],
    pool: 'forks',
    // The files of a worker share its process and loaded modules, and two workers run side by side:
    // what that saves and what it asks of a test file is in docs/testing.md ("Speed").
    isolate: false,
    maxWorkers: Number(process.env.TEST_WORKERS ?? 2),
    testTimeout: 30_000,
    hookTimeout: 180_000,
  },
});
