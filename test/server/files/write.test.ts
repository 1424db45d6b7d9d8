// write: whole files and line ranges, parents created, modes kept; as a --username user, that user's
// ownership and permissions.
import { execFileSync } from 'node:child_process';
import { chmodSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../../helpers/server.js';
import { act, expectError } from './helpers.js';

const isRoot = process.getuid?.() === 0;
let server: TestServer;
let dir: string;

beforeAll(async () => {
  server = await startServer();
  dir = mkdtempSync(join(tmpdir(), 'rc-write-'));
});
afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('write', () => {
  it('creates a file and its parents with mode 0664', async () => {
    const path = join(dir, 'x', 'y', 'new.txt');
    const obs = await act(server, 'write', { path, content: 'hello\n' });
    expect(obs).toEqual({ observation: 'write', content: '', extras: { path }, success: true });
    expect(readFileSync(path, 'utf8')).toBe('hello\n');
    expect(statSync(path).mode & 0o777).toBe(0o664);
  });

  it('rewrites a file keeping its mode', async () => {
    const path = join(dir, 'keep.sh');
    writeFileSync(path, 'old\n', { mode: 0o700 });
    chmodSync(path, 0o700);
    await act(server, 'write', { path, content: 'new' });
    expect(readFileSync(path, 'utf8')).toBe('new');
    expect(statSync(path).mode & 0o777).toBe(0o700);
  });

  it('replaces the lines [start, end)', async () => {
    const path = join(dir, 'range.txt');
    writeFileSync(path, 'l0\nl1\nl2\nl3\n');
    await act(server, 'write', { path, content: 'A\nB', start: 1, end: 3 });
    expect(readFileSync(path, 'utf8')).toBe('l0\nA\nB\nl3\n');
    await act(server, 'write', { path, content: 'tail\n', start: 3 });
    expect(readFileSync(path, 'utf8')).toBe('l0\nA\nB\ntail\n');
  });

  it('resolves a relative path against the session cwd', async () => {
    await server.run(`cd ${dir}`, { session: 'writer' });
    await act(server, 'write', { path: 'rel.txt', content: 'r', session: 'writer' });
    expect(readFileSync(join(dir, 'rel.txt'), 'utf8')).toBe('r');
  });

  it('writes a file with several hard links in place, so every name sees the new content', async () => {
    const a = join(dir, 'linked-a.txt');
    const b = join(dir, 'linked-b.txt');
    writeFileSync(a, 'old content that is longer\n', { mode: 0o640 });
    chmodSync(a, 0o640);
    linkSync(a, b);
    const inode = statSync(a).ino;
    expect((await act(server, 'write', { path: a, content: 'new\n' })).success).toBe(true);
    expect(readFileSync(b, 'utf8')).toBe('new\n');
    expect(statSync(a).ino).toBe(inode);
    expect(statSync(b).ino).toBe(inode);
    expect(statSync(a).nlink).toBe(2);
    expect(statSync(a).mode & 0o777).toBe(0o640);
    await act(server, 'write', { path: b, content: 'X\n', start: 0, end: 1 });
    expect(readFileSync(a, 'utf8')).toBe('X\n');
  });

  it('still replaces a file with a single name whole (a new inode, never half-written)', async () => {
    const path = join(dir, 'single.txt');
    writeFileSync(path, 'one\n');
    const inode = statSync(path).ino;
    await act(server, 'write', { path, content: 'two\n' });
    expect(readFileSync(path, 'utf8')).toBe('two\n');
    expect(statSync(path).ino).not.toBe(inode);
  });

  it('writes through a symlink to the file it points to, keeping the link and that file\'s hard links', async () => {
    const real = join(dir, 'real.txt');
    const other = join(dir, 'real-other-name.txt');
    const link = join(dir, 'link.txt');
    writeFileSync(real, 'before\n');
    symlinkSync(real, link);
    await act(server, 'write', { path: link, content: 'after\n' });
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe(real);
    expect(readFileSync(real, 'utf8')).toBe('after\n');
    linkSync(real, other);
    await act(server, 'write', { path: link, content: 'linked\n' });
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(other, 'utf8')).toBe('linked\n');
    expect(statSync(other).ino).toBe(statSync(real).ino);
  });

  it('answers a directory with an error observation', async () => {
    expectError(await act(server, 'write', { path: dir, content: 'x' }), 'ERROR_IS_DIRECTORY');
    writeFileSync(join(dir, 'plain'), '');
    expectError(await act(server, 'write', { path: join(dir, 'plain', 'child.txt'), content: 'x' }), 'ERROR_NOT_DIRECTORY');
  });
});

describe('named pipes and devices', () => {
  it('refuses to read, view or replace a named pipe, answering at once and leaving it a pipe', async () => {
    const fifo = join(dir, 'pipe');
    execFileSync('mkfifo', [fifo]);
    // Opening it to read would wait for a writer for ever: each must answer, not hang.
    expectError(await act(server, 'read', { path: fifo }), 'ERROR_NOT_REGULAR_FILE', `The path ${fifo} is a named pipe (FIFO), not a regular file; read it with a command instead (for example \`head -c 4096 ${fifo}\`).`);
    expectError(await act(server, 'edit', { command: 'view', path: fifo }), 'ERROR_NOT_REGULAR_FILE');
    expectError(await act(server, 'edit', { command: 'str_replace', path: fifo, old_str: 'a', new_str: 'b' }), 'ERROR_NOT_REGULAR_FILE');
    expectError(await act(server, 'write', { path: fifo, content: 'x' }), 'ERROR_NOT_REGULAR_FILE', `The path ${fifo} is a named pipe (FIFO), not a regular file; it was left as it is. Write to it with a command instead.`);
    expect(lstatSync(fifo).isFIFO()).toBe(true);
  });

  it.runIf(isRoot)('writes into a character device, which stays a device, and refuses to read it or replace lines of it', async () => {
    const dev = join(dir, 'null');
    execFileSync('mknod', [dev, 'c', '1', '3']); // what /dev/null is
    expect(await act(server, 'write', { path: dev, content: 'into the void\n' })).toMatchObject({ observation: 'write', success: true });
    expect(lstatSync(dev).isCharacterDevice()).toBe(true);
    expectError(await act(server, 'write', { path: dev, content: 'x', start: 1, end: 2 }), 'ERROR_NOT_REGULAR_FILE');
    expectError(await act(server, 'read', { path: dev }), 'ERROR_NOT_REGULAR_FILE', /is a character device, not a regular file/);
    expect(lstatSync(dev).isCharacterDevice()).toBe(true);
  });
});

describe.runIf(isRoot)('as the --username user', () => {
  let userServer: TestServer;
  let base: string;
  const NOBODY = 65534;

  beforeAll(async () => {
    userServer = await startServer({ args: ['--username', 'nobody', '--working-dir', '/tmp'] });
    base = mkdtempSync(join('/tmp', 'rc-user-'));
    chmodSync(base, 0o777);
  });
  afterAll(async () => {
    await userServer?.stop();
    rmSync(base, { recursive: true, force: true });
  });

  it('creates files and parents owned by that user', async () => {
    const path = join(base, 'made', 'by', 'nobody.txt');
    expect((await act(userServer, 'write', { path, content: 'n' })).success).toBe(true);
    for (const p of [path, join(base, 'made', 'by'), join(base, 'made')]) expect(statSync(p).uid).toBe(NOBODY);
    expect(statSync(path).mode & 0o777).toBe(0o664);
    const created = await act(userServer, 'edit', { command: 'create', path: join(base, 'edit.txt'), file_text: 'e\n' });
    expect(created.success).toBe(true);
    expect(statSync(join(base, 'edit.txt')).uid).toBe(NOBODY);
  });

  it('keeps the owner of a file it may write but does not own', async () => {
    const path = join(base, 'shared.txt');
    writeFileSync(path, 'root\n');
    chmodSync(path, 0o666);
    await act(userServer, 'write', { path, content: 'changed\n' });
    expect(readFileSync(path, 'utf8')).toBe('changed\n');
    expect(statSync(path).uid).toBe(0);
    expect(statSync(path).mode & 0o777).toBe(0o666);
  });

  it('undoes a create only where that user may remove the file', async () => {
    const sub = join(base, 'undo-dir');
    const path = join(sub, 'made.txt');
    expect((await act(userServer, 'edit', { command: 'create', path, file_text: 'm\n' })).success).toBe(true);
    chmodSync(sub, 0o555);
    expectError(await act(userServer, 'edit', { command: 'undo_edit', path }), 'ERROR_PERMISSION_DENIED', `Permission denied: the session user may not access ${path}.`);
    expect(readFileSync(path, 'utf8')).toBe('m\n');
    chmodSync(sub, 0o755);
    expect((await act(userServer, 'edit', { command: 'undo_edit', path })).success).toBe(true);
    expect(() => statSync(path)).toThrow();
  });

  it('denies what that user may not read or write', async () => {
    const secret = join(base, 'secret.txt');
    writeFileSync(secret, 'root only\n');
    chmodSync(secret, 0o600);
    expectError(await act(userServer, 'read', { path: secret }), 'ERROR_PERMISSION_DENIED', /Permission denied/);
    expectError(await act(userServer, 'write', { path: secret, content: 'x' }), 'ERROR_PERMISSION_DENIED');
    expectError(await act(userServer, 'edit', { command: 'str_replace', path: secret, old_str: 'root', new_str: 'x' }), 'ERROR_PERMISSION_DENIED');
    const locked = join(base, 'locked');
    mkdirSync(locked, { mode: 0o755 });
    expectError(await act(userServer, 'write', { path: join(locked, 'f.txt'), content: 'x' }), 'ERROR_PERMISSION_DENIED');
    expectError(await act(userServer, 'edit', { command: 'create', path: join(locked, 'sub', 'f.txt'), file_text: 'x' }), 'ERROR_PERMISSION_DENIED');
    expect(readFileSync(secret, 'utf8')).toBe('root only\n');
  });
});
