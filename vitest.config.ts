import { defineConfig } from 'vitest/config';

/**
 * Workspace packages export `"@wakame/source": "./src/index.ts"` ahead of `types`/`default`, so resolving with
 * this condition runs tests against the TypeScript sources: no build step, and a change in core is seen at once
 * by transports/cli tests.
 *
 * Since Vite 6 test files run in Vite's `ssr` environment, whose conditions come from `ssr.resolve.conditions`;
 * top-level `resolve.conditions` only feeds the client environment and has no effect here (verified with Vite 8 /
 * Vitest 4.1). Setting the option replaces the defaults, so Vitest's own server defaults (Vite's minus `module`)
 * are repeated. Vitest also forwards these conditions to its workers as `--conditions` flags, which covers modules
 * that Node loads itself (externalized dependencies).
 */
const serverConditions = ['@wakame/source', 'node', 'development|production'];

/** Never collect tests from dependencies, build output or generated docs. */
const excluded = ['**/node_modules/**', '**/dist/**', 'docs/api/**', '**/coverage/**', '**/.wakame/**'];

export default defineConfig({
  ssr: { resolve: { conditions: serverConditions } },
  test: {
    // A verbose listing in CI makes a red run readable from the log alone; locally the default reporter already
    // ends with the "Test Files / Tests / Duration" summary.
    reporters: process.env.CI === 'true' || process.env.WAKAME_REQUIRE_BROKERS === '1' ? ['verbose'] : ['default'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['packages/*/test/**/*.test.ts'],
          exclude: [...excluded, '**/*.int.test.ts', '**/*.cluster.test.ts'],
          environment: 'node',
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['packages/*/test/**/*.int.test.ts'],
          exclude: [...excluded, '**/*.cluster.test.ts'],
          environment: 'node',
          // Integration suites share real brokers (queues, exchanges, connection limits): run files one at a time.
          fileParallelism: false,
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'cluster',
          include: ['packages/*/test/**/*.cluster.test.ts'],
          exclude: excluded,
          environment: 'node',
          // Private RabbitMQ and Redis clusters, started once for the run. Vitest runs a project's globalSetup only
          // when the run selected files of that project, so unit and integration runs never boot them.
          globalSetup: ['packages/testkit/src/cluster-setup.ts'],
          // Tests break and mend shared nodes: one file at a time, and time for a node to come back.
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
