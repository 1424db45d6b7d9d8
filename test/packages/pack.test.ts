// Packages a user can install (issue 11). Every publishable package is packed with `npm pack` (its
// prepack builds dist/); the client and its workspace dependencies are installed from those
// tarballs into an empty project, as a user would, and used from there: import and require, the
// types under NodeNext strict, and a real server answering. Nothing is mocked: npm fetches the
// third-party dependencies from the registry.
//
// Needs npm (and the registry). Without npm the file is skipped, except under CI=true, where a
// missing tool is a failure.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, lstatSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEY, startServer, type TestServer } from '../helpers/server.js';

const ROOT = join(import.meta.dirname, '..', '..');
const PUBLISHED = ['protocol', 'http-kit', 'archive', 'server', 'dockerfiles', 'client', 'cli'];
/** The client and the workspace packages it depends on: what a client user installs. */
const CLIENT_SET = ['protocol', 'archive', 'dockerfiles', 'client'];
/** What a client install must not contain: the server's dependencies. */
const SERVER_ONLY = ['node-pty', 'express', 'busboy', 'pino'];
const MB = 1_000_000;

const hasNpm = spawnSync('npm', ['--version'], { encoding: 'utf8' }).status === 0;
const [major, minor] = process.versions.node.split('.').map(Number);
/** require() of an ES module works without a flag from Node 20.19 (and 22.12). */
const canRequireEsm = major > 22 || (major === 22 && minor >= 12) || (major === 20 && minor >= 19);
const CI = process.env.CI === 'true';

interface Packed {
  name: string;
  filename: string;
  /** The tarball's size in bytes. */
  size: number;
  files: string[];
}

function run(cmd: string, args: string[], opts: { cwd: string; timeoutMs: number; env?: NodeJS.ProcessEnv }): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, encoding: 'utf8', timeout: opts.timeoutMs, maxBuffer: 64 << 20, env: opts.env ?? process.env });
  if (r.error || r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} (in ${opts.cwd}) failed: ${r.error?.message ?? `exit ${r.status}`}\n${r.stdout}\n${r.stderr}`);
  }
  return r;
}

/** Every package directory under `dir`/node_modules, scoped ones included, nested ones too. */
function installedPackages(dir: string): string[] {
  const nm = join(dir, 'node_modules');
  if (!existsSync(nm)) return [];
  const found: string[] = [];
  for (const name of readdirSync(nm)) {
    if (name.startsWith('.')) continue;
    const dirs = name.startsWith('@') ? readdirSync(join(nm, name)).map((n) => join(nm, name, n)) : [join(nm, name)];
    for (const d of dirs) {
      if (!existsSync(join(d, 'package.json'))) continue;
      found.push(d, ...installedPackages(d));
    }
  }
  return found;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
}

/** Names in an `npm ls --all --json` tree. */
function namesIn(tree: { dependencies?: Record<string, unknown> }): string[] {
  return Object.entries(tree.dependencies ?? {}).flatMap(([name, sub]) => [name, ...namesIn(sub as { dependencies?: Record<string, unknown> })]);
}

/** Relative link targets in a markdown text (not URLs, not in-page anchors). */
function relativeLinks(markdown: string): string[] {
  return [...markdown.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]).filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t) && !t.startsWith('#'));
}

describe.skipIf(!hasNpm && !CI)('packages a user can install', () => {
  let work: string;
  let app: string;
  let packed: Map<string, Packed>;
  let installOutput: string;
  let server: TestServer;

  beforeAll(async () => {
    if (!hasNpm) throw new Error('npm is required to test the packages (CI=true: a missing tool is a failure)');
    work = mkdtempSync(join(tmpdir(), 'rc-packages-'));
    const tarballs = join(work, 'tarballs');
    mkdirSync(tarballs);
    // One npm pack for all: each workspace's prepack builds its dist/ first.
    const packArgs = ['pack', '--json', '--pack-destination', tarballs, ...PUBLISHED.flatMap((w) => ['--workspace', w])];
    const out = run('npm', packArgs, { cwd: ROOT, timeoutMs: 240_000 }).stdout;
    const list = JSON.parse(out.slice(out.indexOf('['))) as { name: string; filename: string; size: number; files: { path: string }[] }[];
    packed = new Map(list.map((p) => [p.name.replace('@runtime-client/', ''), { name: p.name, filename: join(tarballs, p.filename), size: p.size, files: p.files.map((f) => f.path) }]));

    app = join(work, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module' }, null, 2));
    const install = run(
      'npm',
      ['install', '--foreground-scripts', '--no-audit', '--no-fund', '--loglevel', 'info', ...CLIENT_SET.map((w) => packed.get(w)!.filename)],
      { cwd: app, timeoutMs: 240_000 },
    );
    installOutput = install.stdout + install.stderr;
    server = await startServer();
  }, 600_000);

  afterAll(async () => {
    await server?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('packs each publishable package with its built JavaScript, its types, its README and nothing built for the repository only', () => {
    expect([...packed.keys()].sort()).toEqual([...PUBLISHED].sort());
    for (const [w, p] of packed) {
      const pkg = JSON.parse(readFileSync(join(ROOT, w, 'package.json'), 'utf8'));
      expect(p.files, w).toContain('README.md');
      expect(p.files, w).toContain('dist/index.js');
      expect(p.files, w).toContain('dist/index.d.ts');
      expect(pkg.files, `${w}: a files list`).toEqual(expect.arrayContaining(['dist']));
      expect(pkg.scripts?.prepack, `${w}: prepack builds`).toMatch(/tsc -b/);
      expect(p.files.filter((f) => f.endsWith('.tsbuildinfo')), w).toEqual([]);
      // Everything exports, types and bin name is in the tarball.
      const targets = [pkg.types, pkg.main, ...Object.values(pkg.bin ?? {}), ...Object.values(pkg.exports).flatMap((e) => (typeof e === 'string' ? [e] : Object.values(e as object)))];
      for (const t of targets.filter((t): t is string => typeof t === 'string' && !t.includes('*'))) {
        expect(p.files, `${w}: ${t}`).toContain(posix.normalize(t));
      }
      for (const bin of Object.values<string>(pkg.bin ?? {})) expect(readFileSync(join(ROOT, w, bin), 'utf8'), `${w}: ${bin}`).toMatch(/^#!/);
    }
  });

  it('holds every document its markdown links to, and nothing links to ../shared', () => {
    for (const [w, p] of packed) {
      for (const md of p.files.filter((f) => f.endsWith('.md'))) {
        const text = readFileSync(join(ROOT, w, md), 'utf8');
        expect(text, `${w}/${md}`).not.toMatch(/\.\.\/shared\b/);
        for (const link of relativeLinks(text)) {
          const target = posix.normalize(posix.join(posix.dirname(md), link.split('#')[0]));
          expect(p.files.some((f) => f === target || f.startsWith(`${target}/`)), `${w}/${md} links to ${link}, which is not in the tarball`).toBe(true);
        }
      }
    }
    expect(packed.get('protocol')!.files).toContain('docs/PROTOCOL.md');
  });

  it('packs the client to under 1 MB', () => {
    expect(packed.get('client')!.size).toBeLessThan(1 * MB);
  });

  it('installs the client without compiling anything', () => {
    // Nothing in the install has an install script or a native build, and npm ran none.
    expect(installOutput).not.toMatch(/^> \S+@\S+ (preinstall|install|postinstall)$/m);
    const packages = installedPackages(app);
    expect(packages.length).toBeGreaterThan(CLIENT_SET.length); // the registry's dependencies came too
    for (const dir of packages) {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      const scripts = Object.keys(pkg.scripts ?? {}).filter((s) => ['preinstall', 'install', 'postinstall'].includes(s));
      expect(scripts, `${pkg.name} has install scripts`).toEqual([]);
      expect(existsSync(join(dir, 'binding.gyp')), `${pkg.name} has a binding.gyp`).toBe(false);
    }
    expect(filesUnder(join(app, 'node_modules')).filter((f) => f.endsWith('.node'))).toEqual([]);
  });

  it('installs no node-pty, express, busboy or pino (npm ls --all)', () => {
    const ls = run('npm', ['ls', '--all', '--json'], { cwd: app, timeoutMs: 60_000 });
    const names = namesIn(JSON.parse(ls.stdout));
    expect(names).toEqual(expect.arrayContaining(['@runtime-client/client', '@runtime-client/protocol', 'ws', 'zod']));
    expect(names.filter((n) => SERVER_ONLY.includes(n))).toEqual([]);
  });

  /** Runs `echo` on the test server through the installed client; prints what came back. */
  const script = `
const client = new RuntimeClient({ url: process.env.RC_URL, apiKey: process.env.RC_KEY });
const r = await client.run('echo "hi from $((6 * 7))"');
await client.close();
console.log(JSON.stringify({ exitCode: r.exitCode, output: r.output.trim(), error: typeof RuntimeError }));
`;

  it('works from an ES module: import { RuntimeClient } from "@runtime-client/client"', () => {
    writeFileSync(join(app, 'use.mjs'), `import { RuntimeClient, RuntimeError } from '@runtime-client/client';\n${script}`);
    const r = run(process.execPath, ['use.mjs'], { cwd: app, timeoutMs: 30_000, env: { ...process.env, RC_URL: server.url, RC_KEY: KEY } });
    expect(JSON.parse(r.stdout)).toEqual({ exitCode: 0, output: 'hi from 42', error: 'function' });
  });

  it.skipIf(!canRequireEsm && !CI)(`works from CommonJS: require("@runtime-client/client") (node ${process.version})`, () => {
    writeFileSync(
      join(app, 'use.cjs'),
      `const { RuntimeClient, RuntimeError } = require('@runtime-client/client');\n(async () => {${script}})().catch((e) => { console.error(e); process.exit(1); });`,
    );
    const r = run(process.execPath, ['use.cjs'], { cwd: app, timeoutMs: 30_000, env: { ...process.env, RC_URL: server.url, RC_KEY: KEY } });
    expect(r.stderr).not.toMatch(/ExperimentalWarning/);
    expect(JSON.parse(r.stdout)).toEqual({ exitCode: 0, output: 'hi from 42', error: 'function' });
  });

  it('has types that resolve under NodeNext, strict', () => {
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          target: 'ES2022',
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          types: ['node'],
          typeRoots: [join(ROOT, 'node_modules', '@types')],
        },
        files: ['check.ts'],
      }),
    );
    // The wrong calls must be errors: types that resolved to `any` would leave @ts-expect-error unused.
    writeFileSync(
      join(app, 'check.ts'),
      `import { RuntimeClient, RuntimeError, type CommandResult, type RuntimeErrorCode } from '@runtime-client/client';
import { ExecuteRequest } from '@runtime-client/protocol';

const client = new RuntimeClient({ url: 'http://127.0.0.1:60000' });
export async function check(): Promise<number> {
  const r: CommandResult = await client.run('true');
  const code: RuntimeErrorCode = 'timeout';
  // @ts-expect-error: not an option
  new RuntimeClient({ url: 'http://x', nope: 1 });
  // @ts-expect-error: exitCode is a number
  const wrong: string = r.exitCode;
  void wrong;
  return r.exitCode + (RuntimeError.name.length > 0 ? 0 : 1) + code.length + Object.keys(ExecuteRequest.shape).length;
}
`,
    );
    const tsc = join(ROOT, 'node_modules', '.bin', 'tsc');
    const r = spawnSync(tsc, ['-p', app], { cwd: app, encoding: 'utf8', timeout: 120_000 });
    expect(`${r.stdout}${r.stderr}`).toBe('');
    expect(r.status).toBe(0);
  });

  it('the installed client is the packed one, not a link into the repository', () => {
    const installed = join(app, 'node_modules', '@runtime-client', 'client');
    expect(lstatSync(installed).isSymbolicLink()).toBe(false);
    expect(existsSync(join(installed, 'dist', 'index.js'))).toBe(true);
    expect(existsSync(join(installed, 'node_modules'))).toBe(false);
  });
});
