// The self-contained bundle, dist/runtime-client/ (`npm run bundle`): its layout, its manifest,
// its ELF interpreter, and real runs of it, from the host through its own loader and, when a
// Docker engine is available, in a busybox-only image with no glibc, no bash and no /etc/passwd.
// Imports nothing from the server: it tests the built artifact.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, symlinkSync, copyFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collectLogs } from '../helpers/server.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const DIR = join(ROOT, 'dist', 'runtime-client');
const MOUNT = '/opt/runtime-client';
const VERSION: string = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;
const LOADER = join(DIR, 'lib', 'ld-linux-x86-64.so.2');
const BIN = join(DIR, 'bin', 'runtime-client');

beforeAll(() => {
  if (existsSync(join(DIR, 'manifest.json'))) return;
  const r = spawnSync('npm', ['run', 'bundle'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`npm run bundle failed:\n${r.stdout}${r.stderr}`);
}, 900_000);

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? listFiles(join(dir, e.name)).map((f) => join(e.name, f)) : [e.name]))
    .sort();
}

/** PT_INTERP of a 64-bit little-endian ELF, or undefined when it has none (static). */
function elfInterpreter(path: string): string | undefined {
  const fd = openSync(path, 'r');
  try {
    const read = (offset: number, length: number) => {
      const buf = Buffer.alloc(length);
      readSync(fd, buf, 0, length, offset);
      return buf;
    };
    const eh = read(0, 64);
    expect(eh.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
    expect([eh[4], eh[5]]).toEqual([2, 1]); // ELFCLASS64, little-endian
    const phoff = Number(eh.readBigUInt64LE(32));
    const phentsize = eh.readUInt16LE(54);
    const phnum = eh.readUInt16LE(56);
    const ph = read(phoff, phentsize * phnum);
    for (let i = 0; i < phnum; i++) {
      const at = i * phentsize;
      if (ph.readUInt32LE(at) !== 3) continue; // PT_INTERP
      const text = read(Number(ph.readBigUInt64LE(at + 8)), Number(ph.readBigUInt64LE(at + 32))).toString('latin1');
      return text.replace(/\0.*$/s, '');
    }
    return undefined;
  } finally {
    closeSync(fd);
  }
}

describe('dist/runtime-client layout', () => {
  it('has the entry point, bash, tini, session-init, the loader, the libraries and node-pty', () => {
    const executables = [
      'bin/runtime-client',
      'bin/bash',
      'bin/tini',
      'bin/session-init',
      'lib/ld-linux-x86-64.so.2',
      'lib/libc.so.6',
      'lib/libstdc++.so.6',
      'lib/node_modules/node-pty/build/Release/pty.node',
    ];
    for (const f of executables) {
      const st = statSync(join(DIR, f));
      expect(st.isFile(), f).toBe(true);
      expect(st.mode & 0o555, `${f} readable and executable by all`).toBe(0o555);
    }
    for (const f of ['manifest.json', 'lib/node_modules/node-pty/package.json', 'lib/node_modules/node-pty/lib/index.js', 'lib/node_modules/node-pty/lib/unixTerminal.js']) {
      expect(statSync(join(DIR, f)).mode & 0o444, `${f} readable by all`).toBe(0o444);
    }
  });

  it('has a manifest whose digest matches the files', () => {
    const manifest = JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8'));
    expect(manifest.version).toBe(VERSION);
    expect(manifest.node).toMatch(/^v\d+\.\d+\.\d+$/);
    const files = listFiles(DIR).filter((f) => f !== 'manifest.json');
    expect(manifest.files).toBe(files.length);
    const hash = createHash('sha256');
    let total = 0;
    for (const f of files) {
      const st = statSync(join(DIR, f));
      total += st.size;
      hash.update(`${f}\0${st.mode & 0o111 ? 'x' : '-'}\0${st.size}\0`);
      hash.update(readFileSync(join(DIR, f)));
    }
    expect(manifest.digest).toBe(hash.digest('hex'));
    expect(manifest.sizes.total).toBe(total);
    expect(total).toBeLessThanOrEqual(120e6);
  });

  it('runs its ELF through the bundled loader at /opt/runtime-client; bash, tini and session-init are static', () => {
    expect(elfInterpreter(BIN)).toBe(`${MOUNT}/lib/ld-linux-x86-64.so.2`);
    expect(elfInterpreter(join(DIR, 'bin/bash'))).toBeUndefined();
    expect(elfInterpreter(join(DIR, 'bin/tini'))).toBeUndefined();
    expect(elfInterpreter(join(DIR, 'bin/session-init'))).toBeUndefined();
  });

  it('ships session-init, which runs the bundled bash and exits with its status', () => {
    const r = spawnSync(join(DIR, 'bin/session-init'), ['--', join(DIR, 'bin/bash'), '-c', 'echo "in $0"; exit 3'], { encoding: 'utf8' });
    expect(r.stdout).toBe(`in ${join(DIR, 'bin/bash')}\n`);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(3);
  });

  it('prints the package version through an explicit loader (no /opt needed), with nothing on stderr', () => {
    const { NODE_OPTIONS: _, ...env } = process.env;
    const r = spawnSync(LOADER, [BIN, '--version'], { encoding: 'utf8', env });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe(VERSION);
    expect(r.status).toBe(0);
  });
});

interface Started {
  proc: ChildProcess;
  port: number;
  logs: Record<string, unknown>[];
}

/** Starts `cmd`, which must log pino JSON lines; resolves once `default session ready` is logged. */
function startLogged(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<Started> {
  const proc = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  proc.stderr!.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    let port = 0;
    const timer = setTimeout(() => reject(new Error(`no "default session ready" in 20 s: ${JSON.stringify(logs)} ${stderr}`)), 20_000);
    proc.once('exit', (code) => reject(new Error(`exited with ${code} before it was ready: ${JSON.stringify(logs)} ${stderr}`)));
    collectLogs(proc, logs, (entry) => {
      if (entry.msg === 'listening') port = entry.port as number;
      if (entry.msg === 'default session ready' && port) {
        clearTimeout(timer);
        resolve({ proc, port, logs });
      }
    });
  });
}

async function run(port: number, command: string) {
  const res = await fetch(`http://127.0.0.1:${port}/execute_action`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ action: { action: 'run', args: { command } } }),
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { content: string; extras: { metadata: { exit_code: number; working_dir: string } } };
  return { out: body.content, exitCode: body.extras.metadata.exit_code, cwd: body.extras.metadata.working_dir };
}

function stop(proc: ChildProcess): Promise<number | null> {
  if (proc.exitCode !== null) return Promise.resolve(proc.exitCode);
  return new Promise((resolve) => {
    proc.once('exit', (code) => resolve(code));
    proc.kill('SIGTERM');
  });
}

describe('the bundle on the host, through its own loader', () => {
  let server: Started | undefined;
  afterAll(async () => {
    if (server) await stop(server.proc);
  });

  it('serves, runs bash on a pty from the bundled node-pty, and leaks no LD_* into the shell', async () => {
    const home = mkdtempSync(join(tmpdir(), 'rc-bundle-home-'));
    const { NODE_OPTIONS: _, SESSION_API_KEY: __, ...env } = process.env;
    server = await startLogged(LOADER, [BIN, '--port', '0', '--host', '127.0.0.1', '--working-dir', home], { ...env, HOME: home });
    const r = await run(server.port, 'echo hi; [ -t 0 ] && echo tty; env | grep -c "^LD_" || true');
    expect(r.out).toBe('hi\ntty\n0\n');
    expect(r.exitCode).toBe(0);
    const probe = spawnSync(LOADER, [BIN, 'probe', '--port', String(server.port)]);
    expect(probe.status).toBe(0);
    expect(await stop(server.proc)).toBe(0);
    server = undefined;
  });
});

// A busybox-only image (no glibc, no bash, no /etc/passwd), built here from Debian's
// busybox-static (apt-get download, cached in .cache/bundle/test): images are never pulled.
const dockerOk = spawnSync('docker', ['info'], { stdio: 'ignore' }).status === 0;
const IMAGE = 'rc-scratch/busybox:sea';

describe.skipIf(!dockerOk)('the bundle in a busybox-only container', () => {
  const name = `rc-bundle-test-${process.pid}`;
  const port = 40000 + (process.pid % 20000);

  beforeAll(() => {
    if (spawnSync('docker', ['image', 'inspect', IMAGE], { stdio: 'ignore' }).status === 0) return;
    const cache = join(ROOT, '.cache', 'bundle', 'test');
    mkdirSync(cache, { recursive: true });
    let deb = readdirSync(cache).find((f) => f.startsWith('busybox-static_'));
    if (!deb) {
      const sandbox = process.getuid?.() === 0 ? ['-o', 'APT::Sandbox::User=root'] : [];
      execFileSync('apt-get', [...sandbox, 'download', 'busybox-static:amd64'], { cwd: cache, stdio: 'ignore' });
      deb = readdirSync(cache).find((f) => f.startsWith('busybox-static_'))!;
    }
    const x = mkdtempSync(join(tmpdir(), 'rc-busybox-x-'));
    const rootfs = mkdtempSync(join(tmpdir(), 'rc-busybox-root-'));
    try {
      execFileSync('dpkg-deb', ['-x', join(cache, deb), x]);
      mkdirSync(join(rootfs, 'bin'));
      mkdirSync(join(rootfs, 'tmp'));
      chmodSync(join(rootfs, 'tmp'), 0o1777);
      copyFileSync(join(x, 'bin', 'busybox'), join(rootfs, 'bin', 'busybox'));
      chmodSync(join(rootfs, 'bin', 'busybox'), 0o755);
      symlinkSync('busybox', join(rootfs, 'bin', 'sh'));
      execFileSync('sh', ['-c', 'tar -C "$1" -c . | docker import - "$2"', 'sh', rootfs, IMAGE], { stdio: 'ignore' });
    } finally {
      rmSync(x, { recursive: true, force: true });
      rmSync(rootfs, { recursive: true, force: true });
    }
  }, 120_000);

  afterAll(() => {
    spawnSync('docker', ['rm', '-f', name], { stdio: 'ignore' });
  });

  it('serves under tini with the bundled bash, as root without /etc/passwd', async () => {
    // --shell is explicit so the test does not depend on the server's choice of a default shell.
    const server = await startLogged(
      'docker',
      ['run', '--rm', '--name', name, '--network', 'host', '-v', `${DIR}:${MOUNT}:ro`, '--entrypoint', `${MOUNT}/bin/tini`, IMAGE,
        '--', `${MOUNT}/bin/runtime-client`, '--port', String(port), '--host', '127.0.0.1', '--shell', `${MOUNT}/bin/bash`],
      process.env,
    );
    expect(server.port).toBe(port);
    expect(await run(port, 'echo hi')).toMatchObject({ out: 'hi\n', exitCode: 0 });
    expect(await run(port, 'busybox id -u')).toMatchObject({ out: '0\n', exitCode: 0 });
    expect(await run(port, 'cd /tmp && pwd')).toMatchObject({ out: '/tmp\n', cwd: '/tmp' });
    expect((await run(port, 'busybox test -e /lib/libc.so.6 || busybox test -e /lib64/ld-linux-x86-64.so.2 || echo no-glibc')).out).toBe('no-glibc\n');
    expect((await run(port, 'busybox env | busybox grep -c "^LD_" || true')).out).toBe('0\n');
    // docker stop: tini forwards SIGTERM, the server exits 0.
    spawnSync('docker', ['stop', '-t', '10', name], { stdio: 'ignore' });
    expect(await stop(server.proc)).toBe(0);
  }, 60_000);
});
