// Bundles the server into one ESM file, dist/runtime-client.mjs: ~100 ms faster to start than
// resolving hundreds of module files. node-pty stays external (a native addon, loaded at run time).
import { build } from 'esbuild';
import { root, serverBuild } from './options.mjs';

await build({
  ...serverBuild,
  outfile: `${root}dist/runtime-client.mjs`,
  format: 'esm',
  external: ['node-pty'],
  sourcemap: 'linked',
  // CommonJS dependencies call require(); give the ESM bundle a real one.
  banner: { js: "import { createRequire as __rcCreateRequire } from 'node:module'; const require = __rcCreateRequire(import.meta.url);" },
});
