// The command line: help, version, bad flags, and `probe` as a health check.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { CLI, startServer } from '../helpers/server.js';

const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 10_000 });
const version = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;

describe('runtime-client', () => {
  it('prints help and version', () => {
    const help = cli('--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--working-dir');
    expect(help.stdout).toContain('SESSION_API_KEY');
    expect(cli('--version').stdout.trim()).toBe(version);
  });

  it('exits 2 with a clear message on a bad flag or port', () => {
    const bad = cli('--colour', 'red');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/colour/);
    const port = cli('--port', 'abc');
    expect(port.status).toBe(2);
    expect(port.stderr).toContain('--port must be an integer from 0 to 65535');
  });

  it('exits 1 with a clear message when --username names no user', () => {
    const res = cli('--port', '0', '--username', 'no-such-user-xyz');
    expect(res.status).toBe(1);
    expect(res.stderr).toContain('no user "no-such-user-xyz"');
  });

  it('probe exits 0 against a live server and 1 when nothing listens', async () => {
    const server = await startServer();
    try {
      expect(cli('probe', '--port', String(server.port)).status).toBe(0);
    } finally {
      await server.stop();
    }
    expect(cli('probe', '--port', String(server.port)).status).toBe(1);
  });
});
