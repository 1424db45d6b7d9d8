// Looking up the session user in /etc/passwd (os.userInfo only knows the current user), and
// checking at start-up that it can reach its working directory and its shell.
import { closeSync, constants, fstatSync, openSync, readFileSync, realpathSync, statSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { userInfo } from 'node:os';
import type { ShellUser } from './shell/session.js';

/** The passwd entry for `name`, or an Error saying why there is none. */
export function lookupUser(name: string, passwdPath = '/etc/passwd'): ShellUser & { shell: string } {
  let passwd: string;
  try {
    passwd = readUserFile(passwdPath);
  } catch (e) {
    throw new Error(`cannot read ${passwdPath} to look up user ${JSON.stringify(name)}: ${(e as Error).message}`);
  }
  for (const line of passwd.split('\n')) {
    const [user, , uid, gid, , home, shell] = line.split(':');
    if (user === name && uid !== undefined && gid !== undefined) {
      return { name, uid: Number(uid), gid: Number(gid), home: home || '/', shell: shell ?? '' };
    }
  }
  throw new Error(`no user ${JSON.stringify(name)} in ${passwdPath}`);
}

/** Files larger than this are not read as /etc/passwd or /etc/group. */
const MAX_USER_FILE_BYTES = 64 * 2 ** 20;

/**
 * A user file's text: a regular file only (an image may plant a FIFO, which would stall the
 * read, or a link to /dev/zero, which would never end), of at most 64 MiB.
 */
function readUserFile(path: string): string {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error(`${path} is not a regular file`);
    if (st.size > MAX_USER_FILE_BYTES) throw new Error(`${path} is larger than ${MAX_USER_FILE_BYTES / 2 ** 20} MiB`);
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/** The user the server runs as; images without /etc/passwd (scratch, busybox) still get one. */
export function currentUser(env: NodeJS.ProcessEnv = process.env): ShellUser {
  try {
    const info = userInfo();
    return { name: info.username, uid: info.uid, gid: info.gid, home: info.homedir };
  } catch {
    const uid = process.getuid?.() ?? 0;
    const name = env.USER || (uid === 0 ? 'root' : String(uid));
    return { name, uid, gid: process.getgid?.() ?? 0, home: env.HOME || (uid === 0 ? '/root' : '/') };
  }
}

/** Who the session's processes run as, for checking what they can reach before the server starts. */
export interface Identity {
  name: string;
  uid: number;
  /** Primary group first, then the supplementary ones. */
  gids: number[];
}

/** The groups `name` gets at login (as initgroups gives them): `gid`, then each group /etc/group lists it in. */
export function groupsOf(name: string, gid: number, groupPath = '/etc/group'): number[] {
  const gids = [gid];
  let text: string;
  try {
    text = readUserFile(groupPath);
  } catch {
    return gids; // no /etc/group (a scratch image), or not a file: the primary group only
  }
  for (const line of text.split('\n')) {
    const [, , id, members] = line.split(':');
    if (id && members?.split(',').includes(name) && !gids.includes(Number(id))) gids.push(Number(id));
  }
  return gids;
}

/** The server's own identity (its shells run as it when there is no --username). */
export function ownIdentity(): Identity {
  const gid = process.getgid?.() ?? 0;
  return { name: currentUser().name, uid: process.getuid?.() ?? 0, gids: [gid, ...(process.getgroups?.() ?? []).filter((g) => g !== gid)] };
}

/**
 * Why `who` cannot make `dir` its working directory (a sentence to follow the directory's name),
 * or null when it can: it must exist, be a directory, and `who` must be allowed to search it and
 * every directory above it. Decided from the mode bits (root may enter anything); ACLs are not read.
 */
export function whyCannotEnter(dir: string, who: Identity): string | null {
  const target = resolvedPath(dir);
  if (typeof target !== 'string') return target.problem;
  const st = statSync(target);
  if (!st.isDirectory()) return `is not a directory${target === dir ? '' : ` (it leads to ${target})`}`;
  return whyCannotSearchDown(target, who, true);
}

/**
 * Why `who` cannot run the program `file` (a sentence to follow its name), or null when it can:
 * a regular file that `who` may execute, in directories it may search.
 */
export function whyCannotRun(file: string, who: Identity): string | null {
  const target = resolvedPath(file);
  if (typeof target !== 'string') return target.problem;
  const st = statSync(target);
  if (!st.isFile()) return `is not a file${st.isDirectory() ? ' (it is a directory)' : ''}`;
  const path = whyCannotSearchDown(dirname(target), who, false);
  if (path) return path;
  return permits(st, who, EXECUTE) ? null : `is not executable by user ${who.name} (mode ${(st.mode & 0o7777).toString(8)}, owner uid ${st.uid})`;
}

const EXECUTE = 1;

/** The real path of `path`, or why there is none. */
function resolvedPath(path: string): string | { problem: string } {
  try {
    return realpathSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { problem: 'does not exist' };
    if (code === 'ENOTDIR') return { problem: 'does not exist (a part of its path is a file)' };
    if (code === 'ELOOP') return { problem: 'is a loop of symbolic links' };
    if (code === 'EACCES') return { problem: `cannot be reached by the server's user (permission denied on a directory above it)` };
    return { problem: `cannot be read (${code ?? (e as Error).message})` };
  }
}

/** Why `who` cannot search each directory from / down to `dir` (itself included), or null. */
function whyCannotSearchDown(dir: string, who: Identity, isTarget: boolean): string | null {
  let path = '';
  for (const part of ['', ...dir.split('/').filter(Boolean)]) {
    path = `${path}/${part}`.replace(/^\/\//, '/');
    const st = statSync(path);
    if (permits(st, who, EXECUTE)) continue;
    const how = `(mode ${(st.mode & 0o7777).toString(8)}, owner uid ${st.uid}, group ${st.gid})`;
    return isTarget && path === dir ? `cannot be entered by user ${who.name} ${how}` : `cannot be reached by user ${who.name}: it may not enter ${path} ${how}`;
  }
  return null;
}

/** Whether `who` has `bit` (1 execute/search, 2 write, 4 read) on a file, from its mode bits. */
function permits(st: Stats, who: Identity, bit: number): boolean {
  // Root may search any directory, and execute any file that anyone may execute.
  if (who.uid === 0) return bit !== EXECUTE || st.isDirectory() || (st.mode & 0o111) !== 0;
  if (st.uid === who.uid) return (st.mode & (bit << 6)) !== 0;
  if (who.gids.includes(st.gid)) return (st.mode & (bit << 3)) !== 0;
  return (st.mode & bit) !== 0;
}
