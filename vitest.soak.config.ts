// `npm test`'s second run: the soak test alone on the machine (see vitest.config.ts).
import { defineConfig } from 'vitest/config';
import { workspaceAlias } from './vitest.alias.js';

export default defineConfig({
  resolve: { alias: workspaceAlias },
  test: {
    include: ['test/server/soak.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
