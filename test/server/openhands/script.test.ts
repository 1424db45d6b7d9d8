// scripts/openhands.sh without installing anything: what it says when there is no install, that a
// venv left half-made by a killed run does not count as one, and its usage errors.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const SCRIPT = join(ROOT, 'scripts/openhands.sh');
const HASH = createHash('sha256').update(readFileSync(join(ROOT, 'test/server/openhands/requirements.txt'))).digest('hex').slice(0, 12);

let cache: string;
beforeAll(() => {
  cache = mkdtempSync(join(tmpdir(), 'rc-oh-cache-'));
});
afterAll(() => rmSync(cache, { recursive: true, force: true }));

function script(...args: string[]) {
  return spawnSync('bash', [SCRIPT, ...args], { encoding: 'utf8', env: { ...process.env, RUNTIME_CLIENT_CACHE: cache }, timeout: 30_000 });
}

it('--print-python with nothing installed exits 1 naming the command that installs', () => {
  const r = script('--print-python');
  expect(r.status).toBe(1);
  expect(r.stdout).toBe('');
  expect(r.stderr).toBe(`openhands.sh: OpenHands 1.6.0 is not installed in ${cache}/openhands-1.6.0-${HASH}; run: bash scripts/openhands.sh\n`);
});

it('a venv without its completion mark (a killed install) is not taken as installed', () => {
  const venv = join(cache, `openhands-1.6.0-${HASH}`);
  mkdirSync(join(venv, 'bin'), { recursive: true });
  writeFileSync(join(venv, 'bin', 'python'), '#!/bin/sh\nexit 0\n', { mode: 0o755 }); // runs, but was never finished
  expect(spawnSync(join(venv, 'bin', 'python'), ['-c', '']).status).toBe(0);
  const r = script('--print-python');
  expect(r.status).toBe(1);
  expect(r.stderr).toContain('is not installed');
});

it('refuses an unknown argument with exit 2', () => {
  const r = script('--bogus');
  expect(r.status).toBe(2);
  expect(r.stderr).toBe("openhands.sh: unknown argument '--bogus' (use --print-python or nothing)\n");
});
