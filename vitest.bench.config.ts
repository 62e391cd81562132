import { defineConfig } from 'vitest/config';

// `npm run bench`: benchmark programs that print figures and write bench/results; not tests.
export default defineConfig({
  test: {
    include: ['bench/**/*.bench-run.ts'],
    testTimeout: 1_800_000,
    hookTimeout: 600_000,
    pool: 'forks',
    fileParallelism: false,
    reporters: ['default'],
  },
});
