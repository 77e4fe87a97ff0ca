import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // graphql 17 ships ESM and CJS builds; without these conditions vitest loads both
  // ("Cannot use GraphQLScalarType from another module or realm").
  ssr: { resolve: { conditions: ['module', 'node', 'production'] } },
  test: {
    include: [
      'core/src/**/*.test.ts',
      'api/src/**/*.test.ts',
      'workers/src/**/*.test.ts',
      'cli/src/**/*.test.ts',
      'scripts/**/*.test.ts',
      'web/src/**/*.test.ts',
      'web/server/**/*.test.ts',
      'test/**/*.test.ts',
    ],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    // A poll waits for a browser or a process to get there: on a loaded two-core machine an
    // argon2 hash behind a form takes more than the default second.
    expect: { poll: { timeout: 10_000 } },
    hookTimeout: 120_000,
    pool: 'forks',
    // Most files wait on processes, PostgreSQL and Chromium more than they compute: three files
    // at a time even on a two-core machine (where vitest would run one) keeps both cores busy.
    maxWorkers: Math.max(3, availableParallelism() - 1),
  },
});
