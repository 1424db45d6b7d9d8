// Issue 10, item 12: the server finds or makes a place for its runtime files in any image (one
// without /tmp, a read-only one, one without /etc/passwd or HOME) and says in the log where.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chooseRuntimeDir, defaultPlaces } from '../../server/runtime-dir.js';
import { CLI, listenedOn, startServer, waitAlive } from '../helpers/server.js';

const isRoot = process.getuid?.() === 0;
const mode = (path: string) => statSync(path).mode & 0o7777;

describe('chooseRuntimeDir', () => {
  let base: string;
  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), 'rc-places-'));
  });
  afterEach(() => {
    rmSync(base, { recursive: true, force: true });
  });

  it('takes the first place that works, passing over and naming the others', () => {
    const file = join(base, 'a-file');
    writeFileSync(file, '');
    const open = join(base, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777); // anyone could rename the runtime directory out of it
    const good = join(base, 'good');
    mkdirSync(good);
    const chosen = chooseRuntimeDir([
      { dir: 'relative/tmp', label: '$TMPDIR' },
      { dir: join(base, 'missing') },
      { dir: file },
      { dir: open },
      { dir: good },
      { dir: base },
    ]);
    expect(chosen.dir.startsWith(join(good, 'runtime-client-'))).toBe(true);
    expect(chosen.created).toBeUndefined();
    expect(chosen.skipped).toEqual([
      { place: '$TMPDIR (relative/tmp)', reason: 'not an absolute path' },
      { place: join(base, 'missing'), reason: 'ENOENT' },
      { place: file, reason: 'not a directory' },
      { place: open, reason: 'writable by others without the sticky bit' },
    ]);
    const st = statSync(chosen.dir);
    expect(st.isDirectory()).toBe(true);
    expect(mode(chosen.dir)).toBe(0o711);
    expect(st.uid).toBe(process.getuid!());
  });

  it('creates a missing place with mode 1777 when asked, once, after trying it as it is', () => {
    const tmp = join(base, 'tmp');
    const chosen = chooseRuntimeDir([{ dir: tmp }, { dir: tmp, create: true }]);
    expect(chosen.created).toBe(tmp);
    expect(mode(tmp)).toBe(0o1777);
    expect(chosen.dir.startsWith(join(tmp, 'runtime-client-'))).toBe(true);
    expect(mode(chosen.dir)).toBe(0o711);
    expect(chosen.skipped).toEqual([{ place: tmp, reason: 'ENOENT' }]);
  });

  it('tries a place listed twice only once when it exists', () => {
    const open = join(base, 'open');
    mkdirSync(open, { mode: 0o777 });
    chmodSync(open, 0o777);
    const chosen = chooseRuntimeDir([{ dir: open }, { dir: open, create: true }, { dir: base }]);
    expect(chosen.dir.startsWith(join(base, 'runtime-client-'))).toBe(true);
    expect(chosen.skipped).toEqual([{ place: open, reason: 'writable by others without the sticky bit' }]);
  });

  it.runIf(isRoot)("passes over a directory owned by another user (it could swap the runtime directory)", () => {
    const theirs = join(base, 'theirs');
    mkdirSync(theirs, { mode: 0o755 });
    chownSync(theirs, 65534, 65534);
    const chosen = chooseRuntimeDir([{ dir: theirs, label: 'working dir' }, { dir: base }]);
    expect(chosen.skipped).toEqual([{ place: `working dir (${theirs})`, reason: 'owned by uid 65534, who could replace the runtime directory' }]);
  });

  it('throws, naming every place and why, when none works', () => {
    expect(() => chooseRuntimeDir([{ dir: join(base, 'x') }, { dir: join(base, 'y', 'z'), create: true }])).toThrow(
      `no place for the runtime files: ${join(base, 'x')}: ENOENT; ${join(base, 'y', 'z')}: ENOENT`,
    );
  });

  it('lists $TMPDIR, /tmp, /var/tmp, /tmp created, /dev/shm, /run, HOME, the working dir', () => {
    expect(defaultPlaces('/work', { TMPDIR: '/scratch', HOME: '/home/me' })).toEqual([
      { dir: '/scratch', label: '$TMPDIR' },
      { dir: '/tmp' },
      { dir: '/var/tmp' },
      { dir: '/tmp', create: true },
      { dir: '/dev/shm' },
      { dir: '/run' },
      { dir: '/home/me', label: 'HOME' },
      { dir: '/work', label: 'working dir' },
    ]);
  });
});

describe('the server', () => {
  it('starts with TMPDIR naming a missing directory, and logs where its runtime files are', async () => {
    const server = await startServer({ env: { TMPDIR: '/nonexistent-rc-tmpdir' } });
    let dir: string;
    try {
      const lines = server.logs.filter((l) => l.msg === 'runtime files');
      expect(lines).toHaveLength(1);
      dir = lines[0]!.dir as string;
      expect(dir.startsWith('/tmp/runtime-client-')).toBe(true);
      expect(lines[0]!.skipped).toEqual([{ place: '$TMPDIR (/nonexistent-rc-tmpdir)', reason: 'ENOENT' }]);
      expect(mode(dir)).toBe(0o711);
      expect((await server.run('echo ok')).content).toBe('ok\n');
    } finally {
      await server.stop();
    }
    expect(existsSync(dir)).toBe(false);
  });

  it.runIf(isRoot)('starts with every temporary place read-only, no /etc/passwd and no HOME', async () => {
    // A private mount namespace: read-only tmpfs over /tmp, /var/tmp, /dev/shm and /run; a
    // writable working dir; /etc/passwd empty and nsswitch reading files only (no passwd entry
    // for the server's user at all); HOME and TMPDIR unset.
    const nss = mkdtempSync(join(tmpdir(), 'rc-nss-'));
    writeFileSync(join(nss, 'nsswitch.conf'), 'passwd: files\ngroup: files\n');
    // The checkout may itself be under /tmp (a CI clone): it is bound at /mnt first, so the
    // tmpfs over /tmp does not hide the server being tested.
    const root = dirname(dirname(CLI));
    const script = [
      'set -e',
      `mount --bind ${root} /mnt`,
      `mount --bind ${join(nss, 'nsswitch.conf')} /etc/nsswitch.conf`,
      'mount --bind /dev/null /etc/passwd',
      'mount -t tmpfs none /tmp',
      'mkdir /tmp/work',
      'mount -t tmpfs -o mode=0755 none /tmp/work',
      'mount -o remount,ro /tmp',
      'for d in /var/tmp /dev/shm /run; do mount -t tmpfs -o ro none $d; done',
      'exec env -u HOME -u TMPDIR "$0" "$@"',
    ].join('\n');
    const proc = spawn('unshare', ['-m', 'sh', '-c', script, process.execPath, join('/mnt', relative(root, CLI)), '--port', '0', '--host', '127.0.0.1', '--working-dir', '/tmp/work'], {
      env: { ...process.env, SESSION_API_KEY: 'k' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const { port, logs } = await listening(proc);
      const line = logs.find((l) => l.msg === 'runtime files')!;
      expect(line.dir).toMatch(/^\/tmp\/work\/runtime-client-\w+$/);
      expect(line.skipped).toEqual([
        { place: '/tmp', reason: 'EROFS' },
        { place: '/var/tmp', reason: 'EROFS' },
        { place: '/dev/shm', reason: 'EROFS' },
        { place: '/run', reason: 'EROFS' },
      ]);
      const res = await fetch(`http://127.0.0.1:${port}/execute_action`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-session-api-key': 'k' },
        body: JSON.stringify({ action: { action: 'run', args: { command: 'echo "$HOME $(id -u)"; pwd' } } }),
      });
      expect(res.status).toBe(200);
      expect((await res.json()).content).toBe('/root 0\n/tmp/work\n');
    } finally {
      await stop(proc);
      rmSync(nss, { recursive: true, force: true });
    }
  });
});

async function listening(proc: ChildProcess): Promise<{ port: number; logs: Record<string, any>[] }> {
  const logs: Record<string, any>[] = [];
  const port = await listenedOn(proc, logs);
  await waitAlive(`http://127.0.0.1:${port}`);
  return { port, logs };
}

function stop(proc: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
    proc.once('exit', () => resolve());
    proc.kill('SIGTERM');
  });
}
