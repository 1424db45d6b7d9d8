import { defineConfig } from 'vitest/config';
import { workspaceAlias } from './vitest.alias.js';

export default defineConfig({
  resolve: { alias: workspaceAlias },
  test: {
    include: ['test/**/*.test.ts'],
    // The soak runs on its own afterwards (vitest.soak.config.ts): it measures /alive latency,
    // which the other files running beside it on two cores would distort.
    exclude: ['test/server/soak.test.ts', '**/node_modules/**'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
