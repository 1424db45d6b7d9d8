// `npm run build`'s bundles: one ESM file each, ~100 ms faster to start than resolving hundreds of
// module files. node-pty stays external (a native addon, loaded at run time).
//   dist/runtime-client.mjs  the sandbox server alone (server/bin.ts): serve and probe
//   dist/cli.mjs             the host CLI (cli/main.ts): run, exec, ps, stop, dockerfile, build,
//                            docker-args, and serve/probe handed to the server
//   dist/ipython-driver.py   the run_ipython cell driver (server/ipython/driver.py), found beside
//                            either bundle
// Each writes an esbuild metafile beside it (*.meta.json), which the tests read to check that no
// host code is in the sandbox server.
import { build } from 'esbuild';
import { chmodSync, copyFileSync, writeFileSync } from 'node:fs';
import { root, serverBuild } from './options.mjs';

// CommonJS dependencies call require(); give the ESM bundle a real one.
const banner = { js: "import { createRequire as __rcCreateRequire } from 'node:module'; const require = __rcCreateRequire(import.meta.url);" };

for (const [entry, out] of [
  [`${root}server/bin.ts`, 'runtime-client.mjs'],
  [`${root}cli/main.ts`, 'cli.mjs'],
]) {
  const result = await build({
    ...serverBuild,
    entryPoints: [entry],
    outfile: `${root}dist/${out}`,
    format: 'esm',
    // Native addons stay outside too, loaded at run time from node_modules: node-pty, and the
    // control plane's better-sqlite3 and dockerode's ssh2 (with its optional cpu-features).
    external: ['node-pty', 'better-sqlite3', 'ssh2', 'cpu-features'],
    sourcemap: 'linked',
    metafile: true,
    banner,
  });
  writeFileSync(`${root}dist/${out.replace(/\.mjs$/, '.meta.json')}`, JSON.stringify(result.metafile));
  chmodSync(`${root}dist/${out}`, 0o755);
}

copyFileSync(`${root}server/ipython/driver.py`, `${root}dist/ipython-driver.py`);
