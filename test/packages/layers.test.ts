// The layers of the house (issue 11), read from the sources: every import of every workspace
// package, static, dynamic and type-only, checked against the layer order
//
//   protocol, http-kit  <  archive  <  server, dockerfiles  <  client, control  <  cli
//
// (an import may only go down, never up or sideways), the package.json dependencies, and the
// package graph (no cycle; the sandbox server reaches no host code). Then the sandbox server
// bundle's esbuild metafile, which must hold nothing from client/, cli/ or dockerfiles/.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { build, type Metafile } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a build script, plain JavaScript without types
import { serverBuild } from '../../bundle/options.mjs';

const ROOT = join(import.meta.dirname, '..', '..');
const SCOPE = '@runtime-client/';

/** Layer of each package: an import must go to a strictly lower layer. */
const LAYERS: Record<string, number> = { protocol: 0, 'http-kit': 0, archive: 1, server: 2, dockerfiles: 2, client: 3, control: 3, cli: 4 };
/** Build tools, not layers of the product: they may import any package they declare. */
const TOOLS = ['bundle'];
/** What the sandbox server must never reach, directly or through another package. */
const HOST = ['client', 'control', 'cli', 'dockerfiles'];

interface Import {
  /** The importing file, relative to the repository. */
  file: string;
  /** A package name as written (`@runtime-client/server/main`, `zod`, `node:fs`), or for a relative import the file it resolved to, relative to the repository. */
  specifier: string;
  /** esbuild's import kind (`import-statement`, `dynamic-import`, `require-call`, ...), or `import-type`. */
  kind: string;
  /** True for a relative import (a file, not a package). */
  internal: boolean;
}

const workspaces: string[] = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).workspaces;
const manifest = (w: string) => JSON.parse(readFileSync(join(ROOT, w, 'package.json'), 'utf8'));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (e.name === 'node_modules' || e.name === 'dist') return [];
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return /\.(ts|mts|cts|mjs|cjs|js)$/.test(e.name) && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}

/**
 * The imports of one package: the value imports (static, dynamic, require) as esbuild resolves
 * them, with every file of the package an entry point and every package external, plus the
 * type-only ones (`import type`, `export type ... from`), which esbuild drops before resolving.
 */
async function importsOf(w: string): Promise<Import[]> {
  const dir = join(ROOT, w);
  const files = sourceFiles(dir);
  const result = await build({
    entryPoints: files,
    absWorkingDir: ROOT,
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    outdir: join(ROOT, '.cache', 'layers-out'),
    write: false,
    metafile: true,
    logLevel: 'silent',
    // Imports that name only types are kept like the others, unless marked `type`.
    tsconfigRaw: { compilerOptions: { verbatimModuleSyntax: true } },
  });
  const imports: Import[] = [];
  for (const [file, input] of Object.entries(result.metafile.inputs)) {
    for (const imp of input.imports) imports.push({ file, specifier: imp.path, kind: imp.kind, internal: !imp.external });
  }
  for (const path of files) {
    const text = readFileSync(path, 'utf8');
    for (const m of text.matchAll(/^\s*(?:import|export)\s+type\s[^;]*?\sfrom\s+['"]([^'"]+)['"]/gm)) {
      const internal = m[1].startsWith('.');
      imports.push({ file: relative(ROOT, path), specifier: internal ? relative(ROOT, join(path, '..', m[1])) : m[1], kind: 'import-type', internal });
    }
  }
  return imports;
}

/** `@runtime-client/server/main` → `server`; anything else → undefined. */
function workspaceOf(specifier: string): string | undefined {
  if (!specifier.startsWith(SCOPE)) return undefined;
  return specifier.slice(SCOPE.length).split('/')[0];
}

let imports: Map<string, Import[]>;

beforeAll(async () => {
  imports = new Map();
  for (const w of workspaces) imports.set(w, await importsOf(w));
});

describe('the layers', () => {
  it('knows every workspace package', () => {
    expect([...workspaces].sort()).toEqual([...Object.keys(LAYERS), ...TOOLS].sort());
    for (const w of workspaces) expect(manifest(w).name, w).toBe(`${SCOPE}${w}`);
    // The reading works: packages do import each other, dynamically too.
    const all = [...imports.values()].flat();
    expect(all.some((i) => i.specifier === '@runtime-client/protocol' && i.kind === 'import-statement')).toBe(true);
    expect(all.some((i) => i.kind === 'dynamic-import')).toBe(true);
    expect(all.some((i) => i.kind === 'import-type')).toBe(true);
  });

  it('imports other packages by name only: no relative import leaves its package', () => {
    for (const [w, list] of imports) {
      const escaping = list.filter((i) => i.internal && !i.specifier.startsWith(`${w}/`) && !i.specifier.split('/').includes('node_modules'));
      expect(escaping.map((i) => `${i.file} → ${i.specifier} (${i.kind})`), w).toEqual([]);
    }
  });

  it('declares every package it imports in its dependencies, and imports only what that package exports', () => {
    for (const [w, list] of imports) {
      const deps = Object.keys(manifest(w).dependencies ?? {});
      for (const i of list) {
        const target = workspaceOf(i.specifier);
        if (!target || target === w) continue;
        expect(workspaces, `${i.file} imports ${i.specifier}: no such workspace package`).toContain(target);
        expect(deps, `${i.file} imports ${i.specifier}, which ${w}/package.json does not list in dependencies`).toContain(`${SCOPE}${target}`);
        const sub = i.specifier.slice(`${SCOPE}${target}`.length);
        expect(Object.keys(manifest(target).exports), `${i.file} imports ${i.specifier}, which ${target} does not export`).toContain(`.${sub}`);
      }
    }
  });

  it('imports only down the layers: protocol, http-kit < archive < server, dockerfiles < client, control < cli', () => {
    const upward: string[] = [];
    for (const [w, list] of imports) {
      if (TOOLS.includes(w)) continue;
      for (const i of list) {
        const target = workspaceOf(i.specifier);
        if (!target || target === w) continue;
        if (!(LAYERS[target] < LAYERS[w])) upward.push(`${i.file} (${w}, layer ${LAYERS[w]}) → ${i.specifier} (layer ${LAYERS[target]}, ${i.kind})`);
      }
    }
    expect(upward).toEqual([]);
    // protocol and http-kit, at the bottom, import nothing of ours.
    expect((imports.get('protocol') ?? []).filter((i) => workspaceOf(i.specifier))).toEqual([]);
    expect((imports.get('http-kit') ?? []).filter((i) => workspaceOf(i.specifier))).toEqual([]);
  });

  it('has no import cycle between packages', () => {
    const edges = new Map<string, Set<string>>();
    for (const [w, list] of imports) {
      edges.set(w, new Set(list.map((i) => workspaceOf(i.specifier)).filter((t): t is string => !!t && t !== w)));
    }
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (w: string, path: string[]) => {
      if (state.get(w) === 'done') return;
      if (state.get(w) === 'open') return void cycles.push([...path.slice(path.indexOf(w)), w].join(' → '));
      state.set(w, 'open');
      for (const next of edges.get(w) ?? []) visit(next, [...path, w]);
      state.set(w, 'done');
    };
    for (const w of workspaces) visit(w, []);
    expect(cycles).toEqual([]);
  });

  it('the sandbox server never reaches host code (client, cli, dockerfiles), directly or through another package', () => {
    const reached = new Set<string>();
    const queue = ['server'];
    while (queue.length) {
      const w = queue.shift()!;
      for (const i of imports.get(w) ?? []) {
        const target = workspaceOf(i.specifier);
        if (target && target !== w && !reached.has(target)) {
          reached.add(target);
          queue.push(target);
        }
      }
    }
    expect([...reached].sort()).toEqual(['archive', 'http-kit', 'protocol']);
    expect([...reached].filter((w) => HOST.includes(w))).toEqual([]);
  });
});

describe('the sandbox server bundle', () => {
  const hostInputs = (meta: Metafile) => Object.keys(meta.inputs).filter((p) => HOST.some((h) => p.startsWith(`${h}/`)));

  it('dist/runtime-client.meta.json (npm run build) holds nothing from client/, cli/ or dockerfiles/', () => {
    const path = join(ROOT, 'dist', 'runtime-client.meta.json');
    expect(existsSync(path), `${path} is missing: run npm run build`).toBe(true);
    const meta: Metafile = JSON.parse(readFileSync(path, 'utf8'));
    const inputs = Object.keys(meta.inputs);
    expect(inputs).toContain('server/bin.ts');
    expect(inputs.some((p) => p.startsWith('protocol/'))).toBe(true);
    expect(hostInputs(meta)).toEqual([]);
    expect(inputs.filter((p) => /node_modules\/(node-pty)\//.test(p))).toEqual([]); // external: loaded at run time
  });

  it('and the same build of the current sources holds none either', async () => {
    const result = await build({ ...serverBuild, absWorkingDir: ROOT, write: false, metafile: true, external: ['node-pty'], format: 'esm', outfile: join(ROOT, '.cache', 'layers-out', 'server.mjs') });
    expect(Object.keys(result.metafile.inputs)).toContain('server/bin.ts');
    expect(hostInputs(result.metafile)).toEqual([]);
  });
});
