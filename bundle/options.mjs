// esbuild options shared by the ESM bundle (js.mjs → dist/runtime-client.mjs) and the
// single-executable build (sea.mjs → dist/runtime-client/bin/runtime-client).
import { readFileSync } from 'node:fs';

export const root = new URL('..', import.meta.url).pathname;
export const { version } = JSON.parse(readFileSync(`${root}package.json`, 'utf8'));

/**
 * The sandbox server alone, from server/bin.ts, for Node 20, with the package version compiled
 * in. The workspace packages it imports (protocol, archive) are bundled from their TypeScript
 * sources (the `source` export condition), so a build needs no per-package compile first.
 */
export const serverBuild = {
  entryPoints: [`${root}server/bin.ts`],
  conditions: ['source'],
  bundle: true,
  platform: 'node',
  target: 'node20',
  define: { 'process.env.RUNTIME_CLIENT_BUILD_VERSION': JSON.stringify(version) },
  logLevel: 'warning',
};
