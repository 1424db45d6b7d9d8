// The client entry stays free of the server: bundling client/index.ts pulls in no node-pty, no
// express, no busboy, no pino and nothing from server/ or cli/. Also checks the package.json
// "exports" points at it. (test/packages/ checks the same of the package as installed.)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

describe('the client entry', () => {
  it('imports no node-pty, express, busboy or pino, and nothing from server/ or cli/', async () => {
    const result = await build({
      entryPoints: [join(root, 'client', 'index.ts')],
      absWorkingDir: root,
      bundle: true,
      platform: 'node',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
      // ws's optional native speed-ups, not installed.
      external: ['bufferutil', 'utf-8-validate'],
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((p) => p.includes('node_modules/ws/'))).toBe(true); // dependencies were followed
    const serverOnly = ['node-pty', 'express', 'busboy', 'pino'];
    expect(inputs.filter((p) => serverOnly.some((name) => p.includes(`node_modules/${name}/`)))).toEqual([]);
    expect(inputs.filter((p) => p.startsWith('server/') || p.startsWith('cli/'))).toEqual([]);
    expect(inputs.some((p) => p.startsWith('protocol/'))).toBe(true); // workspace packages were followed
  });

  it('is what the client package and the checkout root export', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'client', 'package.json'), 'utf8'));
    expect(pkg.exports['.']).toMatchObject({ types: './dist/index.d.ts', default: './dist/index.js' });
    const top = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    expect(top.exports).toEqual({ '.': { types: './client/dist/index.d.ts', default: './client/dist/index.js' } });
    expect(top.types).toBe('./client/dist/index.d.ts');
  });

  it('exports by name only', () => {
    expect(readFileSync(join(root, 'client', 'index.ts'), 'utf8')).not.toMatch(/export \*/);
  });
});
