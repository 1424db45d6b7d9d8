// protocol/ is the wire contract only: it imports zod and its own files, and does no I/O (no node:
// modules, no fs, no process), so any side, a browser included, can load it.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..', 'protocol');

/** Every .ts file of protocol/ (not dist/ or node_modules/). */
function sources(dir = ROOT): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    if (d.isDirectory()) return d.name === 'dist' || d.name === 'node_modules' ? [] : sources(join(dir, d.name));
    return d.name.endsWith('.ts') ? [join(dir, d.name)] : [];
  });
}

/** Globals through which code reaches the process, the file system or the network. */
const IO_GLOBALS = ['process', 'Buffer', 'require', 'fetch', 'XMLHttpRequest', 'WebSocket', 'Deno', 'Bun', '__dirname', '__filename'];

/** What in `source` makes a module impure: imports of anything but zod and sibling files, I/O globals, import.meta. */
function impurities(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:\\])\/\/.*$/gm, '$1');
  const found: string[] = [];
  for (const m of code.matchAll(/\b(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)) {
    const spec = m[1]!;
    if (spec !== 'zod' && !spec.startsWith('./')) found.push(`imports ${spec}`);
  }
  // Words inside strings (a description that says "the server process") are not code.
  const bare = code.replace(/'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|`(?:[^`\\]|\\.)*`/g, "''");
  for (const name of IO_GLOBALS) if (new RegExp(`(?<![\\w.])${name}\\b(?!\\s*:)`).test(bare)) found.push(`uses ${name}`);
  if (/\bimport\.meta\b/.test(bare)) found.push('uses import.meta');
  return found;
}

describe('protocol/ is pure', () => {
  it('finds what it must refuse', () => {
    expect(impurities(`import { readFileSync } from 'node:fs';`)).toEqual(['imports node:fs']);
    expect(impurities(`import x from 'fs';\nconst k = process.env.K;`)).toEqual(['imports fs', 'uses process']);
    expect(impurities(`const m = await import('node:path');`)).toEqual(['imports node:path']);
    expect(impurities(`export const u = import.meta.url; fetch(u);`)).toEqual(['uses fetch', 'uses import.meta']);
    expect(impurities(`import { z } from 'zod';\nimport { A } from './a.js';\n// process.exit() in a comment\nconst s = z.string().describe("the server process"); // uses fetch? no`)).toEqual([]);
  });

  it.each(sources().map((f) => relative(ROOT, f)))('%s imports only zod and its siblings, and does no I/O', (file) => {
    expect(impurities(readFileSync(join(ROOT, file), 'utf8'))).toEqual([]);
  });

  it('depends on zod alone and compiles without Node types', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    expect(Object.keys(pkg.dependencies ?? {})).toEqual(['zod']);
    expect(JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8')).compilerOptions.types).toEqual([]);
  });
});
