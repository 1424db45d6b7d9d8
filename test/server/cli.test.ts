// The command line: help, version, bad flags and environment values at start-up (exit 2 with a
// sentence naming them, before anything starts), `probe` as a health check, and `npm start`.
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CLI, HOST_CLI, KEY, startServer } from '../helpers/server.js';

const root = join(import.meta.dirname, '..', '..');
const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
const isRoot = process.getuid?.() === 0;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}
/** The sandbox binary with `args`; a server that wrongly starts is killed after 5 s (status null). */
function cli(args: string[], opts: { env?: Record<string, string | undefined>; cwd?: string; bin?: string } = {}): Run {
  const env: Record<string, string | undefined> = { ...process.env, SESSION_API_KEY: KEY, ...opts.env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  const r = spawnSync(process.execPath, [opts.bin ?? CLI, ...args], { encoding: 'utf8', timeout: 5_000, env, cwd: opts.cwd });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
/** Serve flags that keep a server that should not have started off port 60000. */
const SERVE = ['--port', '0', '--host', '127.0.0.1'];

describe('runtime-client', () => {
  it('prints help and version', () => {
    const help = cli(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--working-dir');
    expect(help.stdout).toContain('SESSION_API_KEY');
    expect(help.stdout).toContain('trace, debug, info, warn, error, fatal, silent');
    expect(help.stdout).toMatch(/Exit status: 2 when a flag or environment value is wrong/);
    expect(cli(['--version']).stdout.trim()).toBe(version);
  });

  it('exits 2 with a clear message on a bad flag or port', () => {
    const bad = cli(['--colour', 'red']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/colour/);
    const port = cli(['--port', 'abc']);
    expect(port.status).toBe(2);
    expect(port.stderr).toContain('--port must be an integer from 0 to 65535');
  });

  it('probe exits 0 against a live server and 1 when nothing listens', async () => {
    const server = await startServer();
    try {
      expect(cli(['probe', '--port', String(server.port)]).status).toBe(0);
    } finally {
      await server.stop();
    }
    expect(cli(['probe', '--port', String(server.port)]).status).toBe(1);
  });

  it('probe --help lists its own flags with their defaults (not the global help), in the sandbox binary and the host CLI', () => {
    for (const bin of [CLI, HOST_CLI]) {
      for (const flag of ['--help', '-h']) {
        const r = cli(['probe', flag], { bin });
        expect(r.status, r.stderr).toBe(0);
        expect(r.stdout).toMatch(/^Usage: runtime-client probe \[--port N\] \[--host ADDR\]\n/);
        expect(r.stdout).toMatch(/--port N +the server's port \(default \$RUNTIME_CLIENT_PORT, else 60000\)/);
        expect(r.stdout).toMatch(/--host ADDR +the server's address \(default 127\.0\.0\.1\)/);
        expect(r.stdout).not.toContain('--working-dir');
      }
    }
  });
});

describe('a bad flag or environment value at start-up: exit 2, a sentence naming it, nothing started', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rc-cli-'));
  chmodSync(dir, 0o755); // mkdtemp makes it 0700: the --username user must reach what is below it
  const file = join(dir, 'a-file');
  writeFileSync(file, 'not a directory');
  const emptyKey = join(dir, 'empty-key');
  writeFileSync(emptyKey, '\n');
  const notExecutable = join(dir, 'not-executable');
  writeFileSync(notExecutable, '#!/bin/sh\n', { mode: 0o644 });

  const cases: [string, string[], Record<string, string>, string][] = [
    ['--log-level verbose', ['--log-level', 'verbose'], {}, '--log-level must be one of trace, debug, info, warn, error, fatal, silent; got "verbose"'],
    ['--working-dir missing', ['--working-dir', '/nonexistent-rc-dir'], {}, '--working-dir /nonexistent-rc-dir does not exist'],
    ['--working-dir a file', ['--working-dir', file], {}, `--working-dir ${file} is not a directory`],
    ['--working-dir under a file', ['--working-dir', join(file, 'x')], {}, `--working-dir ${join(file, 'x')} does not exist (a part of its path is a file)`],
    ['--port empty', ['--port', ''], {}, '--port must be an integer from 0 to 65535, got ""'],
    ['--port hex', ['--port', '0x10'], {}, '--port must be an integer from 0 to 65535, got "0x10"'],
    ['--port too big', ['--port', '70000'], {}, '--port must be an integer from 0 to 65535, got "70000"'],
    ['--host not an address', ['--host', 'a b'], {}, '--host must be an IP address or a host name, got "a b"'],
    ['--host not here', ['--host', '192.0.2.1'], {}, '--host 192.0.2.1: cannot listen there (EADDRNOTAVAIL'],
    ['--max-body-mb words', ['--max-body-mb', 'ten'], {}, '--max-body-mb must be a positive number, got "ten"'],
    ['--max-upload-mb negative', ['--max-upload-mb=-1'], {}, '--max-upload-mb must be a positive number, got "-1"'],
    ['--max-unpacked-mb zero', ['--max-unpacked-mb', '0'], {}, '--max-unpacked-mb must be a positive number, got "0"'],
    ['--max-spill-mb infinite', ['--max-spill-mb', '1e999'], {}, '--max-spill-mb must be a positive number, got "1e999"'],
    ['--max-sessions fraction', ['--max-sessions', '2.5'], {}, '--max-sessions must be a positive integer, got "2.5"'],
    ['--body-timeout past the timer range', ['--body-timeout', '3000000'], {}, '--body-timeout must be at most 2147483, got "3000000"'],
    ['--shell-start-timeout empty', ['--shell-start-timeout', ''], {}, '--shell-start-timeout must be a positive number up to 2147483, got ""'],
    ['--api-key-file missing', ['--api-key-file', join(dir, 'no-key')], {}, `--api-key-file ${join(dir, 'no-key')} does not exist`],
    ['--api-key-file empty', ['--api-key-file', emptyKey], {}, `--api-key-file ${emptyKey} is empty (to serve without a key, give neither --api-key-file nor SESSION_API_KEY)`],
    ['--shell missing', ['--shell', '/nonexistent-rc/bash'], {}, '--shell /nonexistent-rc/bash does not exist'],
    ['--shell a directory', ['--shell', dir], {}, `--shell ${dir} is not a file (it is a directory)`],
    ['--shell not on PATH', ['--shell', 'no-such-shell-rc'], {}, '--shell no-such-shell-rc is not found on PATH'],
    ['--shell not executable', ['--shell', notExecutable], {}, `--shell ${notExecutable} is not executable by user`],
    ['--username unknown', ['--username', 'no-such-user-xyz'], {}, '--username: no user "no-such-user-xyz" in /etc/passwd'],
    ['a positional argument', ['serve-me'], {}, "Unexpected argument 'serve-me'"],
    ['RUNTIME_CLIENT_PORT words', [], { RUNTIME_CLIENT_PORT: 'abc' }, 'RUNTIME_CLIENT_PORT must be an integer from 0 to 65535, got "abc"'],
    ['RUNTIME_CLIENT_PORT too big', [], { RUNTIME_CLIENT_PORT: '65536' }, 'RUNTIME_CLIENT_PORT must be an integer from 0 to 65535, got "65536"'],
    ['NO_CHANGE_TIMEOUT_SECONDS words', [], { NO_CHANGE_TIMEOUT_SECONDS: 'soon' }, 'NO_CHANGE_TIMEOUT_SECONDS must be a positive number up to 2147483, got "soon"'],
    ['NO_CHANGE_TIMEOUT_SECONDS zero', [], { NO_CHANGE_TIMEOUT_SECONDS: '0' }, 'NO_CHANGE_TIMEOUT_SECONDS must be a positive number up to 2147483, got "0"'],
    ['NO_CHANGE_TIMEOUT_SECONDS past the timer range', [], { NO_CHANGE_TIMEOUT_SECONDS: '9999999' }, 'NO_CHANGE_TIMEOUT_SECONDS must be at most 2147483, got "9999999"'],
    ['MAX_OUTPUT_CHARS words', [], { MAX_OUTPUT_CHARS: 'lots' }, 'MAX_OUTPUT_CHARS must be a positive integer, got "lots"'],
    ['MAX_OUTPUT_CHARS fraction', [], { MAX_OUTPUT_CHARS: '0.5' }, 'MAX_OUTPUT_CHARS must be a positive integer, got "0.5"'],
  ];

  it.each(cases)('%s', (_name, args, env, message) => {
    // The value under test comes last, so it wins over SERVE's port and host.
    const r = cli([...SERVE, ...args], { env });
    expect(r.status, r.stderr || r.stdout).toBe(2);
    expect(r.stderr).toContain(`runtime-client: ${message}`);
    expect(r.stderr).toContain("Try 'runtime-client --help'.");
    expect(r.stdout).toBe(''); // no log line: nothing was started
  });

  it('says the same through the host CLI (runtime-client serve and bare flags)', () => {
    for (const args of [['serve', ...SERVE, '--log-level', 'verbose'], [...SERVE, '--log-level', 'verbose']]) {
      const r = cli(args, { bin: HOST_CLI });
      expect(r.status).toBe(2);
      expect(r.stderr).toContain('--log-level must be one of trace, debug, info, warn, error, fatal, silent; got "verbose"');
    }
  });

  it('exits 1 (not 2) when the port is in use, and says so', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const r = cli(['--host', '127.0.0.1', '--port', String(port)]);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`runtime-client: port ${port} on 127.0.0.1 is already in use`);
      expect(r.stdout).toBe('');
    } finally {
      taken.close();
    }
  });

  describe.runIf(isRoot)('the working directory is checked as the --username user', () => {
    const locked = join(dir, 'locked');
    const inner = join(locked, 'inner');
    mkdirSync(inner, { recursive: true });
    chmodSync(locked, 0o700);
    const rootOnlyShell = join(locked, 'bash');
    writeFileSync(rootOnlyShell, '#!/bin/sh\n', { mode: 0o755 });

    it('nobody cannot enter a 0700 root directory, or one below it', () => {
      const top = cli([...SERVE, '--username', 'nobody', '--working-dir', locked]);
      expect(top.status).toBe(2);
      expect(top.stderr).toContain(`runtime-client: --working-dir ${locked} cannot be entered by user nobody (mode 700, owner uid 0, group 0)`);
      const below = cli([...SERVE, '--username', 'nobody', '--working-dir', inner]);
      expect(below.status).toBe(2);
      expect(below.stderr).toContain(`runtime-client: --working-dir ${inner} cannot be reached by user nobody: it may not enter ${locked} (mode 700`);
    });

    it('the current directory is the working directory when none is named, and is checked too', () => {
      const r = cli([...SERVE, '--username', 'nobody'], { cwd: locked });
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(`runtime-client: the working directory ${locked} (the current directory; --working-dir names another) cannot be entered by user nobody`);
    });

    it('nobody cannot run a shell in a directory it cannot enter', () => {
      const r = cli([...SERVE, '--username', 'nobody', '--working-dir', '/tmp', '--shell', rootOnlyShell]);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(`runtime-client: --shell ${rootOnlyShell} cannot be reached by user nobody: it may not enter ${locked}`);
    });

    it('root can enter it: the server starts there', async () => {
      const server = await startServer({ args: ['--username', 'root', '--working-dir', inner] });
      try {
        expect((await server.run('pwd')).content.trim()).toBe(inner);
      } finally {
        await server.stop();
      }
    });
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));
});

describe('npm start', () => {
  it('passes `-- --port N` on, and SIGTERM to npm reaches the server: it stops and frees the port', async () => {
    // --ignore-scripts: prestart (build when stale) is not what is tested here.
    const npm = spawn('npm', ['start', '--ignore-scripts', '--', '--port', '0', '--host', '127.0.0.1'], {
      cwd: root,
      env: { ...process.env, SESSION_API_KEY: KEY, RUNTIME_CLIENT_PORT: '' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const npmExited = new Promise<number | null>((resolve) => npm.once('exit', (code) => resolve(code)));
    const listening = await new Promise<{ pid: number; port: number }>((resolve, reject) => {
      npm.once('exit', (code) => reject(new Error(`npm start exited with ${code} before listening`)));
      createInterface({ input: npm.stdout! }).on('line', (line) => {
        if (!line.startsWith('{')) return; // npm's own banner
        const entry = JSON.parse(line);
        if (entry.msg === 'listening') resolve({ pid: entry.pid, port: entry.port });
      });
    });
    expect(listening.port).not.toBe(60000);
    expect(listening.pid).not.toBe(npm.pid); // the server is npm's child: the signal has to be passed on
    npm.kill('SIGTERM');
    await npmExited;
    const gone = await waitFor(() => !alive(listening.pid), 6_000);
    if (!gone) process.kill(listening.pid, 'SIGKILL');
    expect(gone, `the server (pid ${listening.pid}) outlived npm start`).toBe(true);
    // The port is free again: something else can listen on it.
    const again = createServer();
    await new Promise<void>((resolve, reject) => {
      again.once('error', reject);
      again.listen(listening.port, '127.0.0.1', resolve);
    });
    again.close();
  }, 60_000);
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'latin1'));
  } catch {
    return false;
  }
}

async function waitFor(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}
