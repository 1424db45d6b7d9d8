// --user-id: ensureUser creates the session user in a temporary root tree (never the host's
// /etc), as OpenHands' useradd would, and hands it the working dir without following a link
// planted by a hostile image. The ownership checks need root (CI runs as root); the rest runs as anyone.
import { afterAll, describe, expect, it } from 'vitest';
import { chmodSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ensureUser, UserSetupError } from '../../server/user-setup.js';
import { groupsOf, lookupUser } from '../../server/users.js';

const isRoot = process.getuid?.() === 0;
const made: string[] = [];
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A root tree with the files given (path → text), and /bin/bash when `bash`. */
function tree(files: Record<string, string> = {}, bash = true): string {
  const root = mkdtempSync(join(tmpdir(), 'rc-users-'));
  chmodSync(root, 0o755);
  made.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  if (bash) {
    mkdirSync(join(root, 'bin'), { recursive: true });
    writeFileSync(join(root, 'bin/bash'), '');
  }
  return root;
}
const read = (root: string, path: string) => readFileSync(join(root, path), 'utf8');
const DEBIAN = {
  'etc/passwd': 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n',
  'etc/group': 'root:x:0:\nsudo:x:27:\nnogroup:x:65534:\n',
  'etc/shadow': 'root:*:19000:0:99999:7:::\n',
};

describe('ensureUser creates a missing user', () => {
  it('writes passwd, group and shadow lines, and makes its home', () => {
    const root = tree(DEBIAN);
    const out = ensureUser({ name: 'openhands', uid: 1000, root });
    expect(out).toMatchObject({ created: true, name: 'openhands', uid: 1000, gid: 1000, home: '/home/openhands', warnings: [] });
    expect(read(root, 'etc/passwd')).toBe(DEBIAN['etc/passwd'] + 'openhands:x:1000:1000::/home/openhands:/bin/bash\n');
    expect(read(root, 'etc/group')).toBe(DEBIAN['etc/group'] + 'openhands:x:1000:\n');
    expect(read(root, 'etc/shadow')).toMatch(/^root:\*:19000:0:99999:7:::\nopenhands:!:\d+:0:99999:7:::\n$/);
    const home = statSync(join(root, 'home/openhands'));
    expect(home.isDirectory()).toBe(true);
    expect(home.mode & 0o777).toBe(0o755);
    if (isRoot) expect([home.uid, home.gid]).toEqual([1000, 1000]);
  });

  it('gives an image without /etc/passwd one, with root first; no shadow file is made; /bin/sh when there is no bash', () => {
    const root = tree({ 'bin/sh': '' }, false);
    const out = ensureUser({ name: 'openhands', uid: 1000, root });
    expect(out.created).toBe(true);
    expect(read(root, 'etc/passwd')).toBe('root:x:0:0:root:/root:/bin/sh\nopenhands:x:1000:1000::/home/openhands:/bin/sh\n');
    expect(read(root, 'etc/group')).toBe('root:x:0:\nopenhands:x:1000:\n');
    expect(() => lstatSync(join(root, 'etc/shadow'))).toThrow(/ENOENT/);
    expect(statSync(join(root, 'home/openhands')).isDirectory()).toBe(true);
  });

  it('names the server’s own bash as the login shell when the image has neither bash nor sh (scratch)', () => {
    const root = tree({}, false);
    ensureUser({ name: 'openhands', uid: 1000, root, fallbackShell: '/opt/runtime-client/bin/bash' });
    expect(read(root, 'etc/passwd')).toBe('root:x:0:0:root:/root:/opt/runtime-client/bin/bash\nopenhands:x:1000:1000::/home/openhands:/opt/runtime-client/bin/bash\n');
  });

  it('makes /home, the home and the working dir 0755, and passwd and group 0644, even under a 077 umask', () => {
    const root = tree({}, true);
    const before = process.umask(0o077);
    try {
      ensureUser({ name: 'openhands', uid: 1000, root, workingDir: '/data/workspace' });
    } finally {
      process.umask(before);
    }
    for (const dir of ['home', 'home/openhands', 'data']) expect(statSync(join(root, dir)).mode & 0o777, dir).toBe(0o755);
    expect(statSync(join(root, 'data/workspace')).mode & 0o777).toBe(0o775);
    for (const file of ['etc/passwd', 'etc/group']) expect(statSync(join(root, file)).mode & 0o777, file).toBe(0o644);
  });

  it('takes gid 0 when the gid is another group’s, and allows a uid another user has (as useradd -o)', () => {
    const root = tree({ 'etc/passwd': 'root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n', 'etc/group': 'root:x:0:\nalice:x:1000:\n' });
    const out = ensureUser({ name: 'openhands', uid: 1000, root });
    expect(out).toMatchObject({ created: true, uid: 1000, gid: 0 });
    expect(read(root, 'etc/passwd')).toContain('\nopenhands:x:1000:0::/home/openhands:/bin/bash\n');
    expect(read(root, 'etc/group')).toBe('root:x:0:\nalice:x:1000:\n');
  });

  it('appends after a last line that lacks its newline, never onto it', () => {
    const root = tree({ 'etc/passwd': 'root:x:0:0:root:/root:/bin/bash', 'etc/group': 'root:x:0:' });
    ensureUser({ name: 'openhands', uid: 1000, root });
    expect(read(root, 'etc/passwd')).toBe('root:x:0:0:root:/root:/bin/bash\nopenhands:x:1000:1000::/home/openhands:/bin/bash\n');
    expect(read(root, 'etc/group')).toBe('root:x:0:\nopenhands:x:1000:\n');
  });
});

describe('ensureUser keeps a user that exists', () => {
  it('adds nothing when the name is in passwd, and warns when its uid is not the one asked for', () => {
    const root = tree(DEBIAN);
    const out = ensureUser({ name: 'nobody', uid: 1000, root });
    expect(out).toMatchObject({ created: false, uid: 65534, gid: 65534, home: '/nonexistent' });
    expect(out.warnings).toEqual(['user nobody exists with uid 65534, not 1000: it is kept as it is']);
    expect(read(root, 'etc/passwd')).toBe(DEBIAN['etc/passwd']);
  });

  it('a second call (a restarted server) adds no second line', () => {
    const root = tree(DEBIAN);
    ensureUser({ name: 'openhands', uid: 1000, root, workingDir: '/workspace' });
    const again = ensureUser({ name: 'openhands', uid: 1000, root, workingDir: '/workspace' });
    expect(again).toMatchObject({ created: false, uid: 1000, gid: 1000, warnings: [] });
    expect(read(root, 'etc/passwd').match(/^openhands:/gm)).toHaveLength(1);
    expect(read(root, 'etc/group').match(/^openhands:/gm)).toHaveLength(1);
    expect(read(root, 'etc/shadow').match(/^openhands:/gm)).toHaveLength(1);
  });

  it('after a server that died before its passwd line, reuses the group it made and adds no second', () => {
    const root = tree({ ...DEBIAN, 'etc/group': DEBIAN['etc/group'] + 'openhands:x:1000:\n' });
    const out = ensureUser({ name: 'openhands', uid: 1000, root });
    expect(out).toMatchObject({ created: true, gid: 1000 });
    expect(read(root, 'etc/group').match(/^openhands:/gm)).toHaveLength(1);
  });
});

describe('ensureUser refuses what a hostile image planted', () => {
  it.each(['etc/passwd', 'etc/group', 'etc/shadow'])('a symlinked /%s: a clear error, and the link target untouched', (file) => {
    const root = tree(DEBIAN);
    const target = join(root, 'target');
    writeFileSync(target, 'precious\n');
    rmSync(join(root, file));
    symlinkSync(target, join(root, file));
    const call = () => ensureUser({ name: 'openhands', uid: 1000, root });
    expect(call).toThrow(UserSetupError);
    expect(call).toThrow(`/${file} is a symbolic link: refusing to follow it as root`);
    expect(readFileSync(target, 'utf8')).toBe('precious\n');
    expect(read(root, 'etc/passwd') ?? '').not.toContain('openhands');
  });

  it('a FIFO planted as /etc/passwd or /etc/group: a clear error at once, not a read that never ends', () => {
    for (const file of ['etc/passwd', 'etc/group']) {
      const root = tree(DEBIAN);
      rmSync(join(root, file));
      expect(spawnSync('mkfifo', [join(root, file)]).status).toBe(0);
      expect(() => ensureUser({ name: 'openhands', uid: 1000, root }), file).toThrow(`/${file} is not a regular file`);
    }
    const root = tree();
    mkdirSync(join(root, 'etc'), { recursive: true });
    expect(spawnSync('mkfifo', [join(root, 'etc/passwd')]).status).toBe(0);
    expect(() => lookupUser('root', join(root, 'etc/passwd'))).toThrow('is not a regular file');
    expect(groupsOf('root', 0, join(root, 'etc/passwd'))).toEqual([0]);
  });

  it('a symlinked /home: a clear error, nothing made where it leads, no passwd line', () => {
    const root = tree(DEBIAN);
    const elsewhere = join(root, 'elsewhere');
    mkdirSync(elsewhere);
    symlinkSync(elsewhere, join(root, 'home'));
    expect(() => ensureUser({ name: 'openhands', uid: 1000, root })).toThrow('/home is a symbolic link');
    expect(() => lstatSync(join(elsewhere, 'openhands'))).toThrow(/ENOENT/);
    expect(read(root, 'etc/passwd')).toBe(DEBIAN['etc/passwd']);
  });

  it('a symlinked home directory: refused, its target keeps its owner', () => {
    const root = tree(DEBIAN);
    const secret = join(root, 'secret');
    mkdirSync(secret, { mode: 0o700 });
    mkdirSync(join(root, 'home'));
    symlinkSync(secret, join(root, 'home/openhands'));
    expect(() => ensureUser({ name: 'openhands', uid: 1000, root })).toThrow('/home/openhands is a symbolic link');
    expect(statSync(secret).uid).toBe(process.getuid!());
  });

  it('a working dir that is a symbolic link: refused, naming it', () => {
    const root = tree(DEBIAN);
    mkdirSync(join(root, 'etc-like'));
    symlinkSync(join(root, 'etc-like'), join(root, 'workspace'));
    expect(() => ensureUser({ name: 'openhands', uid: 1000, root, workingDir: '/workspace' })).toThrow('/workspace is a symbolic link');
    expect(read(root, 'etc/passwd')).not.toContain('openhands');
  });

  it('a system directory as working dir is not handed over (a warning), the user is still made', () => {
    const root = tree(DEBIAN);
    mkdirSync(join(root, 'usr/lib'), { recursive: true });
    const out = ensureUser({ name: 'openhands', uid: 1000, root, workingDir: '/usr/lib' });
    expect(out.created).toBe(true);
    expect(out.warnings).toEqual(['the working directory /usr/lib is a system directory: it is not handed to user openhands']);
    expect(statSync(join(root, 'usr/lib')).uid).toBe(process.getuid!());
  });
});

describe.runIf(isRoot)('ensureUser hands the working dir over (as root: real chown)', () => {
  it('makes a missing one (and its parents), owned by the user, g+rw', () => {
    const root = tree(DEBIAN);
    ensureUser({ name: 'openhands', uid: 1000, root, workingDir: '/data/workspace' });
    const st = statSync(join(root, 'data/workspace'));
    expect([st.uid, st.gid]).toEqual([1000, 1000]);
    expect(st.mode & 0o060).toBe(0o060);
  });

  it('hands it to a user that already exists too (as OpenHands does at every start)', () => {
    const root = tree(DEBIAN);
    mkdirSync(join(root, 'workspace/sub'), { recursive: true });
    const out = ensureUser({ name: 'nobody', uid: 65534, root, workingDir: '/workspace' });
    expect(out.created).toBe(false);
    for (const path of ['workspace', 'workspace/sub']) expect(statSync(join(root, path)).uid, path).toBe(65534);
  });

  it('chowns an existing tree, links themselves but never what they lead to', () => {
    const root = tree(DEBIAN);
    const ws = join(root, 'workspace');
    mkdirSync(join(ws, 'src/deep'), { recursive: true });
    writeFileSync(join(ws, 'src/deep/file'), 'x');
    const outside = join(root, 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'shadow-like'), 'secret');
    symlinkSync(outside, join(ws, 'link-to-dir'));
    symlinkSync(join(outside, 'shadow-like'), join(ws, 'src/link-to-file'));
    ensureUser({ name: 'openhands', uid: 1000, root, workingDir: '/workspace' });
    for (const path of ['workspace', 'workspace/src', 'workspace/src/deep', 'workspace/src/deep/file', 'workspace/link-to-dir', 'workspace/src/link-to-file']) {
      const st = lstatSync(join(root, path));
      expect([st.uid, st.gid], path).toEqual([1000, 1000]);
    }
    for (const path of ['outside', 'outside/shadow-like']) expect(statSync(join(root, path)).uid, path).toBe(0);
  });

  it('leaves a file with another hard link (one outside, like /etc/shadow) to its owner, and says so', () => {
    const root = tree(DEBIAN);
    mkdirSync(join(root, 'workspace'));
    writeFileSync(join(root, 'workspace/own'), 'x');
    linkSync(join(root, 'etc/shadow'), join(root, 'workspace/innocent'));
    const out = ensureUser({ name: 'openhands', uid: 1000, root, workingDir: '/workspace' });
    expect(statSync(join(root, 'etc/shadow')).uid).toBe(0);
    expect(statSync(join(root, 'workspace/own')).uid).toBe(1000);
    expect(out.warnings).toEqual(['1 file(s) in /workspace with more than one hard link were left to their owners (another link could be a system file)']);
  });

  it('does not descend into another file system mounted below it (a tmpfs, in a mount namespace of its own)', () => {
    const root = tree(DEBIAN);
    const ws = join(root, 'workspace');
    mkdirSync(join(ws, 'mnt'), { recursive: true });
    writeFileSync(join(ws, 'file'), 'x');
    // The mount lives only in the child's namespace: the host sees nothing of it.
    const script = [
      `mount -t tmpfs rc-users-test ${ws}/mnt`,
      `touch ${ws}/mnt/inside`,
      `${process.execPath} --import tsx -e "const m = await import(process.argv[1]); m.ensureUser({ name: 'openhands', uid: 1000, root: process.argv[2], workingDir: '/workspace' })" ${join(import.meta.dirname, '../../server/user-setup.ts')} ${root}`,
      `stat -c '%u %n' ${ws}/mnt ${ws}/mnt/inside ${ws}/file`,
    ].join(' && ');
    const r = spawnSync('unshare', ['--mount', 'sh', '-c', script], { encoding: 'utf8', cwd: join(import.meta.dirname, '../..') });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([`0 ${ws}/mnt`, `0 ${ws}/mnt/inside`, `1000 ${ws}/file`]);
  });
});
