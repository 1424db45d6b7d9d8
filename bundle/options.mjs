// esbuild options shared by the ESM bundle (js.mjs → dist/runtime-client.mjs) and the
// single-executable build (sea.mjs → dist/runtime-client/bin/runtime-client).
import { readFileSync } from 'node:fs';

export const root = new URL('..', import.meta.url).pathname;
export const { version } = JSON.parse(readFileSync(`${root}package.json`, 'utf8'));

/**
 * Express loads its body parsers (body-parser, with iconv-lite's code-page tables: ~530 KB of
 * source) and serve-static when it is imported, for express.json(), express.urlencoded(),
 * express.raw(), express.text() and express.static(). The server calls none of them (it reads JSON
 * with server/http/body.ts, which has a deadline), so the bundle leaves them out: every sandbox
 * would hold their source in memory for nothing. Calling one of them in the bundle throws.
 */
export const leaveOutUnusedExpressParts = {
  name: 'runtime-client-leave-out',
  setup(b) {
    b.onResolve({ filter: /^(body-parser|serve-static)$/ }, (a) =>
      /[\\/]node_modules[\\/]express[\\/]/.test(a.importer) ? { path: a.path, namespace: 'left-out' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'left-out' }, (a) => ({
      contents: `const leftOut = () => { throw new Error(${JSON.stringify(`${a.path} is left out of the runtime-client bundle (bundle/options.mjs)`)}); };
module.exports = Object.assign(leftOut, { json: leftOut, raw: leftOut, text: leftOut, urlencoded: leftOut });`,
      loader: 'js',
    }));
  },
};

/**
 * The sandbox server alone, from server/bin.ts, for Node 20, with the package version compiled
 * in. The workspace packages it imports (protocol, archive) are bundled from their TypeScript
 * sources (the `source` export condition), so a build needs no per-package compile first.
 *
 * Whitespace and comments are left out (names are kept): V8 holds the whole bundle's source in
 * memory for as long as the server runs, and a single non-ASCII character in a comment made it a
 * two-byte string, 5.4 MB instead of 2 MB. Stack traces point into one long line; the linked
 * source map (dist/runtime-client.mjs.map, `node --enable-source-maps`) maps them back.
 */
export const serverBuild = {
  entryPoints: [`${root}server/bin.ts`],
  conditions: ['source'],
  bundle: true,
  platform: 'node',
  target: 'node20',
  charset: 'ascii',
  minifyWhitespace: true,
  define: { 'process.env.RUNTIME_CLIENT_BUILD_VERSION': JSON.stringify(version) },
  plugins: [leaveOutUnusedExpressParts],
  logLevel: 'warning',
};
