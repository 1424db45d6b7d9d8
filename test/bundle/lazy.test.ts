// What the sandbox server runs at start-up, read from the esbuild metafile of its bundle
// (issue 11: an idle server is what every sandbox pays). esbuild evaluates a bundled module when
// the bundle starts unless it is reached only through a dynamic import(); so the modules reached
// from server/bin.ts through static imports and require() calls are what an idle server holds.
// File transfers (busboy, the archive package with tar-stream, yazl and yauzl) and editor diffs
// (`diff`) must not be among them: they load on first use. Express's body parsers and
// serve-static, which the server never calls, must not be in the bundle at all, and zod must be
// tree-shaken (its 40 locales and JSON Schema converters were 460 KB of the bundle, all evaluated at start).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build, type Metafile } from 'esbuild';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a build script, plain JavaScript without types
import { serverBuild } from '../../bundle/options.mjs';

const ROOT = join(import.meta.dirname, '..', '..');
/** The entry, and what `serve` imports as it starts (main.ts loads them dynamically, so `probe` stays cheap). */
const AT_START = ['server/bin.ts', 'server/server.ts', 'server/logger.ts'];
/** Loaded on the first upload or download, or the first edit. */
const ON_FIRST_USE = [/node_modules\/busboy\//, /node_modules\/tar-stream\//, /node_modules\/yazl\//, /node_modules\/yauzl\//, /node_modules\/diff\//, /^archive\//, /^server\/files\/(upload|receive)\.ts$/];
/** Never used by the server: left out of the bundle. */
const LEFT_OUT = [/node_modules\/body-parser\//, /node_modules\/iconv-lite\//, /node_modules\/raw-body\//, /node_modules\/serve-static\//];

/** Inputs reached from `roots` without crossing a dynamic import(). */
function evaluatedAtStart(meta: Metafile, roots: string[]): Set<string> {
  const seen = new Set<string>(roots);
  const queue = [...roots];
  while (queue.length) {
    for (const imp of meta.inputs[queue.shift()!]?.imports ?? []) {
      if (imp.kind === 'dynamic-import' || imp.external || seen.has(imp.path)) continue;
      seen.add(imp.path);
      queue.push(imp.path);
    }
  }
  return seen;
}

function check(meta: Metafile) {
  const inputs = Object.keys(meta.inputs);
  for (const root of AT_START) expect(inputs, root).toContain(root);
  const atStart = [...evaluatedAtStart(meta, AT_START)];
  // The reading works: the server's own start-up code is there, and the lazy parts are bundled.
  expect(atStart).toEqual(expect.arrayContaining(['server/main.ts', 'server/http/app.ts', 'server/files/routes.ts', 'server/actions/files/edit.ts']));
  expect(atStart.some((p) => p.includes('node_modules/express/'))).toBe(true);
  for (const lazy of ON_FIRST_USE) expect(inputs.some((p) => lazy.test(p)), `${lazy} is bundled`).toBe(true);
  expect(atStart.filter((p) => ON_FIRST_USE.some((re) => re.test(p)))).toEqual([]);
  expect(inputs.filter((p) => LEFT_OUT.some((re) => re.test(p)))).toEqual([]);
  // Tree-shaken only when every file imports it as a namespace: `import * as z from 'zod'`, not `import { z }`.
  const output = Object.entries(meta.outputs).find(([path]) => path.endsWith('.mjs'))![1];
  const zodBytes = Object.entries(output.inputs).filter(([p]) => p.includes('node_modules/zod/')).reduce((n, [, i]) => n + i.bytesInOutput, 0);
  expect(zodBytes).toBeGreaterThan(0);
  expect(zodBytes, 'bytes of zod in the bundle: is zod imported as `import { z } from "zod"` somewhere? Use `import * as z from "zod"`').toBeLessThan(250_000);
}

describe('the sandbox server at start-up', () => {
  it('dist/runtime-client.mjs (npm run build) evaluates no transfer or diff code before it is used', () => {
    const path = join(ROOT, 'dist', 'runtime-client.meta.json');
    expect(existsSync(path), `${path} is missing: run npm run build`).toBe(true);
    check(JSON.parse(readFileSync(path, 'utf8')));
  });

  it('nor does the same build of the current sources', async () => {
    const result = await build({ ...serverBuild, absWorkingDir: ROOT, write: false, metafile: true, external: ['node-pty'], format: 'esm', outfile: join(ROOT, '.cache', 'lazy-out', 'server.mjs') });
    check(result.metafile);
    // Whitespace and comments are out, and the source is ASCII: V8 holds it as one byte a character.
    const code = result.outputFiles.find((f) => f.path.endsWith('.mjs'))!.contents;
    expect(code.every((byte) => byte < 0x80)).toBe(true);
  });
});
