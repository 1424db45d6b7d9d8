// writeBuildContext, now in @runtime-client/dockerfiles (the control plane's Docker driver writes
// contexts too, and may not import the client): the layout renderDockerfile expects, the bundle's
// files the same, a directory that is not empty refused with nothing written, and the client's
// Docker entry still giving the same function.
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CONTEXT_BUNDLE_DIR, CONTEXT_EMPTY_DIR, CONTEXT_FILES, writeBuildContext } from '@runtime-client/dockerfiles';
import { writeBuildContext as clientWriteBuildContext } from '../../client/docker/context.js';

const root = mkdtempSync(join(tmpdir(), 'rc-dockerfiles-context-'));

/** A bundle of two files, a directory and a manifest. */
function fakeBundle(): string {
  const dir = join(root, 'bundle');
  mkdirSync(join(dir, 'bin'), { recursive: true });
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ version: '9.9.9', digest: 'abc123' }));
  writeFileSync(join(dir, 'bin', 'runtime-client'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
  return dir;
}

describe('writeBuildContext', () => {
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const bundleDir = fakeBundle();

  it('writes the Dockerfile, the bundle as runtime-client/ and an empty empty/: CONTEXT_FILES, nothing else', () => {
    const dir = join(root, 'ctx');
    const ctx = writeBuildContext(dir, { baseImage: 'img:1', bundleDir });
    expect(readdirSync(dir).sort()).toEqual([...CONTEXT_FILES].sort());
    expect(readFileSync(join(dir, 'Dockerfile'), 'utf8')).toBe(ctx.dockerfile);
    expect(ctx.dockerfile).toContain('FROM img:1');
    expect(ctx.bundle).toMatchObject({ version: '9.9.9', digest: 'abc123' });
    expect(readFileSync(join(dir, CONTEXT_BUNDLE_DIR, 'bin', 'runtime-client'), 'utf8')).toBe('#!/bin/sh\necho hi\n');
    expect(statSync(join(dir, CONTEXT_BUNDLE_DIR, 'bin', 'runtime-client')).mode & 0o111).toBe(0o111);
    expect(readdirSync(join(dir, CONTEXT_EMPTY_DIR))).toEqual([]);
  });

  it('refuses a directory that is not empty and writes nothing there', () => {
    const dir = join(root, 'full');
    mkdirSync(dir);
    writeFileSync(join(dir, 'mine'), 'x');
    expect(() => writeBuildContext(dir, { baseImage: 'img:1', bundleDir })).toThrow(`the context directory ${dir} is not empty: give a new or empty directory`);
    expect(readdirSync(dir)).toEqual(['mine']);
  });

  it('is the function the client has always exported', () => {
    expect(clientWriteBuildContext).toBe(writeBuildContext);
  });
});
