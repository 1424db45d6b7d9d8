// Bundles the server into one ESM file, dist/runtime-client.mjs: ~100 ms faster to start than
// resolving hundreds of module files. node-pty stays external (a native addon, loaded at run time).
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';

const root = new URL('..', import.meta.url).pathname;
const { version } = JSON.parse(readFileSync(`${root}package.json`, 'utf8'));

await build({
  entryPoints: [`${root}server/cli.ts`],
  outfile: `${root}dist/runtime-client.mjs`,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  external: ['node-pty'],
  sourcemap: 'linked',
  // CommonJS dependencies call require(); give the ESM bundle a real one.
  banner: { js: "import { createRequire as __rcCreateRequire } from 'node:module'; const require = __rcCreateRequire(import.meta.url);" },
  define: { 'process.env.RUNTIME_CLIENT_BUILD_VERSION': JSON.stringify(version) },
  logLevel: 'warning',
});
