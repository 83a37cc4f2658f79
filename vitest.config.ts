import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Scans every sidecar log line, metrics page, deny body and error of the suite for secrets.
    globalSetup: ['test/global/secret-capture.ts'],
    setupFiles: ['test/global/flush-capture.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // The machine has 2 cores; integration tests start real servers and peers.
    maxWorkers: 2,
  },
});
