// Creating the session user (--user-id N with a --username missing from /etc/passwd), as
// OpenHands' own server does with `useradd -rm -d /home/NAME -s /bin/bash -g root -G sudo -u N
// NAME`, but without useradd (most images lack it), and handing it the working directory.
//
// The image may be hostile and the server is root: every file is opened without following a
// symbolic link (O_NOFOLLOW), every directory above it is checked not to be one, and the
// working directory's ownership walk never follows a link nor leaves its file system. Lines are
// appended whole, in one write each, and /etc/passwd last: a server that dies midway leaves no
// half line before another, and starts over cleanly (the user exists only once its passwd line
// does).
import { closeSync, constants, existsSync, fchmodSync, fchownSync, fstatSync, lchownSync, lstatSync, mkdirSync, openSync, readdirSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ServerError } from './errors.js';

const { O_RDONLY, O_WRONLY, O_APPEND, O_CREAT, O_EXCL, O_NOFOLLOW, O_DIRECTORY, O_NONBLOCK } = constants;

/** User files larger than this are refused rather than read (a planted huge file would fill memory). */
export const MAX_USER_FILE_BYTES = 64 * 2 ** 20;

export interface UserRequest {
  /** The user name; USERNAME_PATTERN (protocol/configure.ts), checked by the caller. */
  name: string;
  /** The uid to create it with, 0..2^31-2; ignored (with a warning when it differs) if the user exists. */
  uid: number;
  /** An absolute directory to make when missing and give to the user (chown -R), whether the user is created or found. */
  workingDir?: string;
  /** The file system the paths are under: tests use a temporary tree. Default '/'. */
  root?: string;
  /** The login shell when the image has neither bash nor sh (the server's own bash). Default /bin/sh. */
  fallbackShell?: string;
}

export interface UserOutcome {
  /** False when /etc/passwd already had the name. */
  created: boolean;
  name: string;
  uid: number;
  gid: number;
  home: string;
  /** Sentences for the log (the existing user's uid differs from the one asked for, ...). */
  warnings: string[];
}

/** Why the user or its working directory could not be set up: exit 1 at start, a 500 from /configure. */
export class UserSetupError extends ServerError {
  declare readonly code: 'user_setup';

  constructor(message: string) {
    super('user_setup', message);
  }
}

/** Directories never handed to a user themselves: chowning one would give it the system or other users' files. */
const SYSTEM_DIRS = ['/', '/home', '/mnt', '/opt', '/root', '/run', '/srv', '/tmp', '/var'];
/** Directories nothing below which is handed to a user. */
const SYSTEM_TREES = ['/bin', '/boot', '/dev', '/etc', '/lib', '/lib32', '/lib64', '/libx32', '/proc', '/sbin', '/sys', '/usr'];

/**
 * Makes sure user `name` exists, creating it with uid `uid` when /etc/passwd lacks it: a group
 * (its own, gid `uid`, when that gid is free; else gid 0 as OpenHands does), a shadow line when
 * /etc/shadow exists, its home /home/NAME (0755, its own), and the working directory handed over.
 * Throws UserSetupError, having changed nothing after the step that failed, when a file is a
 * symbolic link or cannot be written.
 */
export function ensureUser(req: UserRequest): UserOutcome {
  const root = req.root ?? '/';
  const at = (path: string) => join(root, path);
  const warnings: string[] = [];
  const handable = req.workingDir === undefined ? false : isHandable(req.workingDir);
  if (req.workingDir !== undefined && !handable) warnings.push(`the working directory ${req.workingDir} is a system directory: it is not handed to user ${req.name}`);

  const passwd = readNoFollow(at('/etc/passwd'), '/etc/passwd');
  const existing = passwd === null ? undefined : findLine(passwd, req.name);
  if (existing) {
    const [, , uidText, gidText, , home] = existing.split(':');
    const uid = Number(uidText);
    const gid = Number(gidText);
    if (uid !== req.uid) warnings.push(`user ${req.name} exists with uid ${uid}, not ${req.uid}: it is kept as it is`);
    // As OpenHands does at every start: the working dir is the user's, whoever made the user.
    if (req.workingDir !== undefined && handable) {
      makeDirs(root, req.workingDir);
      warnLinks(handOver(at(req.workingDir), req.workingDir, uid, gid), req.workingDir, warnings);
    }
    return { created: false, name: req.name, uid, gid, home: home || '/', warnings };
  }

  const shell = ['/bin/bash', '/usr/bin/bash', '/bin/sh', '/usr/bin/sh'].find((p) => existsSync(at(p))) ?? req.fallbackShell ?? '/bin/sh';
  checkDir(root, '/etc', true);
  const gid = ensureGroup(root, req.name, req.uid);
  const shadow = readNoFollow(at('/etc/shadow'), '/etc/shadow');
  if (shadow !== null && findLine(shadow, req.name) === undefined) {
    appendLine(at('/etc/shadow'), '/etc/shadow', shadow, `${req.name}:!:${Math.floor(Date.now() / 86_400_000)}:0:99999:7:::`);
  }
  const home = `/home/${req.name}`;
  checkDir(root, '/home', true);
  makeHome(at(home), home, req.uid, gid);
  if (req.workingDir !== undefined && handable) {
    makeDirs(root, req.workingDir);
    warnLinks(handOver(at(req.workingDir), req.workingDir, req.uid, gid), req.workingDir, warnings);
  }
  // Last: the user exists once this line does.
  const line = `${req.name}:x:${req.uid}:${gid}::${home}:${shell}`;
  if (passwd === null) createFile(at('/etc/passwd'), '/etc/passwd', `root:x:0:0:root:/root:${shell}\n${line}\n`);
  else appendLine(at('/etc/passwd'), '/etc/passwd', passwd, line);
  return { created: true, name: req.name, uid: req.uid, gid, home, warnings };
}

function warnLinks(left: number, dir: string, warnings: string[]): void {
  if (left) warnings.push(`${left} file(s) in ${dir} with more than one hard link were left to their owners (another link could be a system file)`);
}

/** The gid the new user gets: group NAME's if it exists (a server that died midway made it), else a new group NAME with gid `uid` if that is free, else 0. */
function ensureGroup(root: string, name: string, uid: number): number {
  const path = join(root, '/etc/group');
  const text = readNoFollow(path, '/etc/group');
  const own = text === null ? undefined : findLine(text, name);
  if (own) return Number(own.split(':')[2]);
  const taken = (text ?? '').split('\n').some((l) => l.split(':')[2] === String(uid));
  if (taken) return 0;
  const line = `${name}:x:${uid}:`;
  if (text === null) createFile(path, '/etc/group', `root:x:0:\n${line}\n`);
  else appendLine(path, '/etc/group', text, line);
  const gshadow = readNoFollow(join(root, '/etc/gshadow'), '/etc/gshadow');
  if (gshadow !== null && findLine(gshadow, name) === undefined) appendLine(join(root, '/etc/gshadow'), '/etc/gshadow', gshadow, `${name}:!::`);
  return uid;
}

/** The line of `text` (passwd, group or shadow) whose first field is `name`. */
function findLine(text: string, name: string): string | undefined {
  return text.split('\n').find((l) => l.split(':')[0] === name);
}

/** A regular file's text, or null when it does not exist; never through a symbolic link, never stalled by a FIFO. */
function readNoFollow(path: string, shown: string): string | null {
  let fd: number;
  try {
    fd = openSync(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    throw fileError(e, shown);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new UserSetupError(`${shown} is not a regular file: refusing to read or write it`);
    if (st.size > MAX_USER_FILE_BYTES) throw new UserSetupError(`${shown} is larger than ${MAX_USER_FILE_BYTES / 2 ** 20} MiB: refusing to read it`);
    const chunks: Buffer[] = [];
    const buf = Buffer.alloc(65536);
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) chunks.push(Buffer.from(buf.subarray(0, n)));
    return Buffer.concat(chunks).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** Appends `line` in one write (after a newline when the file's last line lacks one). */
function appendLine(path: string, shown: string, current: string, line: string): void {
  const text = (current === '' || current.endsWith('\n') ? '' : '\n') + line + '\n';
  writeWhole(path, shown, O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK, text);
}

/** Creates `path` (it must not exist) with `text`, mode 0644. */
function createFile(path: string, shown: string, text: string): void {
  writeWhole(path, shown, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, text);
}

function writeWhole(path: string, shown: string, flags: number, text: string): void {
  let fd: number;
  try {
    fd = openSync(path, flags, 0o644);
  } catch (e) {
    throw fileError(e, shown);
  }
  try {
    if (!fstatSync(fd).isFile()) throw new UserSetupError(`${shown} is not a regular file: refusing to write it`);
    if (flags & O_CREAT) fchmodSync(fd, 0o644); // every user reads passwd and group, whatever the umask
    const data = Buffer.from(text);
    const written = writeSync(fd, data);
    if (written !== data.length) throw new UserSetupError(`${shown}: only ${written} of ${data.length} bytes were written`);
  } catch (e) {
    throw e instanceof UserSetupError ? e : fileError(e, shown);
  } finally {
    closeSync(fd);
  }
}

function fileError(e: unknown, shown: string): UserSetupError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ELOOP') return new UserSetupError(`${shown} is a symbolic link: refusing to follow it as root (the image may have planted it)`);
  return new UserSetupError(`cannot write ${shown} to create the user (${code ?? (e as Error).message})`);
}

/** `dir` (absolute, under `root`) must be a real directory, not a link; `create` makes it (0755) when missing. */
function checkDir(root: string, dir: string, create: boolean): void {
  let st;
  try {
    st = lstatSync(join(root, dir));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || !create) throw new UserSetupError(`${dir} cannot be read (${(e as NodeJS.ErrnoException).code})`);
    mkdirDir(join(root, dir), dir);
    return;
  }
  if (st.isSymbolicLink()) throw new UserSetupError(`${dir} is a symbolic link: refusing to follow it as root (the image may have planted it)`);
  if (!st.isDirectory()) throw new UserSetupError(`${dir} is not a directory`);
}

/** Makes a directory 0755 whatever the umask (a 077 umask would lock the user out of /home); one that exists is left as it is. */
function mkdirDir(path: string, shown: string): void {
  try {
    mkdirSync(path, { mode: 0o755 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new UserSetupError(`cannot make ${shown} (${(e as NodeJS.ErrnoException).code})`);
    return;
  }
  withDir(path, shown, (fd) => fchmodSync(fd, 0o755));
}

/** The home: made 0755 when missing, and (made or found) owned by the user; never through a link. */
function makeHome(path: string, shown: string, uid: number, gid: number): void {
  mkdirDir(path, shown);
  withDir(path, shown, (fd) => {
    fchownSync(fd, uid, gid);
    fchmodSync(fd, 0o755);
  });
}

/** Makes each missing directory of `dir` (0755). Refuses a link on the way. */
function makeDirs(root: string, dir: string): void {
  let path = '';
  for (const part of dir.split('/').filter(Boolean)) {
    path += `/${part}`;
    let st;
    try {
      st = lstatSync(join(root, path));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new UserSetupError(`${path} cannot be read (${(e as NodeJS.ErrnoException).code})`);
      mkdirDir(join(root, path), path);
      continue;
    }
    if (st.isSymbolicLink()) throw new UserSetupError(`the working directory ${dir}: ${path} is a symbolic link; refusing to hand over what it leads to (name the real directory)`);
    if (!st.isDirectory()) throw new UserSetupError(`the working directory ${dir}: ${path} is not a directory`);
  }
}

/** False for `/`, a system directory, or anything in a system tree: those are never made nor handed to a user. */
function isHandable(dir: string): boolean {
  const clean = '/' + dir.split('/').filter((p) => p && p !== '.').join('/');
  return !(dir.split('/').includes('..') || SYSTEM_DIRS.includes(clean) || SYSTEM_TREES.some((t) => clean === t || clean.startsWith(`${t}/`)));
}

/** Opens a directory without following a link (O_NOFOLLOW, O_DIRECTORY) and runs `fn` on its fd. */
function withDir(path: string, shown: string, fn: (fd: number) => void): void {
  let fd: number;
  try {
    fd = openSync(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // O_NOFOLLOW with O_DIRECTORY says ENOTDIR (or ELOOP) for a link.
    const link = (code === 'ELOOP' || code === 'ENOTDIR') && isLink(path);
    throw new UserSetupError(link ? `${shown} is a symbolic link: refusing to follow it as root` : code === 'ENOTDIR' ? `${shown} is not a directory` : `cannot open ${shown} (${code})`);
  }
  try {
    fn(fd);
  } finally {
    closeSync(fd);
  }
}

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Through /proc/self/fd a directory's entries are reached from its open fd: a directory swapped for a link underway leads nowhere else. */
const PROC_FD = existsSync('/proc/self/fd');

/**
 * `chown -R uid:gid dir` that follows no symbolic link (links themselves are lchowned), does
 * not descend into another file system (a mount below it is left as it is), leaves a file with
 * more than one hard link to its owner (the other link may be /etc/shadow), and adds g+rw to
 * `dir` itself, as OpenHands does. Returns how many hard-linked files it left.
 */
export function handOver(path: string, shown: string, uid: number, gid: number): number {
  let left = 0;
  withDir(path, shown, (fd) => {
    const st = fstatSync(fd);
    fchownSync(fd, uid, gid);
    fchmodSync(fd, (st.mode & 0o7777) | 0o060);
    left = walk(fd, path, st.dev, uid, gid);
  });
  return left;
}

function walk(fd: number, path: string, dev: number, uid: number, gid: number): number {
  const base = PROC_FD ? `/proc/self/fd/${fd}` : path;
  let left = 0;
  let entries;
  try {
    entries = readdirSync(base, { withFileTypes: true });
  } catch {
    return 0; // gone or unreadable underway: nothing to hand over
  }
  for (const entry of entries) {
    const child = `${base}/${entry.name}`;
    if (entry.isDirectory()) {
      let childFd: number;
      try {
        childFd = openSync(child, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      } catch {
        continue; // replaced by a link or removed underway: left alone
      }
      try {
        const st = fstatSync(childFd);
        if (st.dev !== dev) continue; // another file system mounted here
        fchownSync(childFd, uid, gid);
        left += walk(childFd, `${path}/${entry.name}`, dev, uid, gid);
      } finally {
        closeSync(childFd);
      }
    } else {
      try {
        const st = lstatSync(child);
        if (st.dev !== dev) continue; // a file bind-mounted here
        if (!st.isSymbolicLink() && st.nlink > 1 && st.uid !== uid) {
          left++;
          continue;
        }
        lchownSync(child, uid, gid);
      } catch {
        // removed underway
      }
    }
  }
  return left;
}
