// What a /configure gave the server, kept across a restart of its process in the same container
// (the engine's restart policy starts the same command again, its filesystem kept): the body is
// saved, root-only, in the state dir, and found again at the next start with --await-config. The
// sandbox is hostile, so nothing there is trusted before it is checked: no symbolic link is
// followed, the directory and the file must be the server's own and closed to others, the file
// is bounded, and it counts only for a server started with the same start key.
import { createHash, timingSafeEqual } from 'node:crypto';
import { type Stats, closeSync, constants, fchmodSync, fstatSync, fsyncSync, lstatSync, mkdirSync, openSync, readSync, renameSync, chmodSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, isAbsolute, join, normalize } from 'node:path';
import * as z from 'zod';
import type { ConfigureRequest } from '@runtime-client/protocol';
import { UsageError } from './errors.js';

/** Where the state is kept when RUNTIME_CLIENT_STATE_DIR does not say. */
export const DEFAULT_STATE_DIR = '/run/runtime-client';
/** The environment variable naming another state dir (an absolute path): tests, or several servers on one machine. */
export const STATE_DIR_ENV = 'RUNTIME_CLIENT_STATE_DIR';
/** The file in the state dir. */
export const STATE_FILE = 'configured.json';
/** The largest state file read or written: 1 MiB. */
export const MAX_STATE_BYTES = 2 ** 20;

/** The file's content. The start key is kept as its SHA-256 only: enough to know the same server started again. */
const SavedState = z.strictObject({
  version: z.literal(1),
  start_key_sha256: z.string().regex(/^[0-9a-f]{64}$/),
  configure: z.unknown(),
});

export type FoundState =
  /** Never configured here (no dir, no file): the server waits, as without a state dir. */
  | { kind: 'none' }
  /** A saved body, to be checked as a /configure body is. */
  | { kind: 'saved'; body: unknown }
  /** Something is wrong with it; `reason` names the problem (never a value from the file). */
  | { kind: 'refused'; reason: string };

/** The state dir from the environment: RUNTIME_CLIENT_STATE_DIR, else /run/runtime-client. */
export function stateDirOf(env: NodeJS.ProcessEnv = process.env): string {
  const raw = env[STATE_DIR_ENV];
  if (raw === undefined || raw === '') return DEFAULT_STATE_DIR;
  if (!isAbsolute(raw) || raw.includes('\0')) throw new UsageError(`${STATE_DIR_ENV} must be an absolute path, got ${JSON.stringify(raw)}`);
  return normalize(raw).replace(/(.)\/+$/, '$1');
}

/**
 * Saves a /configure body the server was configured with, atomically: a temporary file in the
 * state dir, synced, then renamed over the old one (a kill midway leaves the old state or the
 * new, never half). Makes the dir (0700) when missing. Throws an Error whose message says why
 * it could not (never with a value of the body).
 */
export function saveConfigured(dir: string, startKey: string | undefined, body: ConfigureRequest): void {
  const uid = ownUid();
  const text = JSON.stringify({ version: 1, start_key_sha256: keyHash(startKey), configure: body });
  if (Buffer.byteLength(text) > MAX_STATE_BYTES) throw new Error(`the configuration is larger than ${MAX_STATE_BYTES} bytes`);
  let unsafe = unsafeAncestor(dir, uid);
  if (unsafe?.missing) {
    // An image without /run: its missing parents are made as mkdir -p would, then checked again.
    fsStep(`cannot make ${dirname(dir)}`, () => mkdirSync(dirname(dir), { recursive: true, mode: 0o755 }));
    unsafe = unsafeAncestor(dir, uid);
  }
  if (unsafe) throw new Error(unsafe.reason);
  let st = lstatOrNull(dir);
  if (!st) {
    fsStep(`cannot make ${dir}`, () => mkdirSync(dir, { mode: 0o700 }), ['EEXIST']);
    st = fsStep(`cannot read ${dir}`, () => lstatSync(dir));
  }
  const wrong = wrongDir(dir, st, uid);
  if (wrong) throw new Error(wrong);
  if (st.mode & 0o077) fsStep(`cannot change the mode of ${dir}`, () => chmodSync(dir, 0o700));

  const file = join(dir, STATE_FILE);
  const temp = join(dir, `.${STATE_FILE}.${process.pid}.tmp`);
  fsStep(`cannot remove ${temp}`, () => unlinkSync(temp), ['ENOENT']);
  const fd = fsStep(`cannot create ${temp}`, () => openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600));
  try {
    fsStep(`cannot write ${temp}`, () => {
      fchmodSync(fd, 0o600);
      const data = Buffer.from(text);
      for (let at = 0; at < data.length; ) at += writeSync(fd, data, at, data.length - at);
      fsyncSync(fd);
    });
  } catch (e) {
    closeSync(fd);
    removeQuietly(temp);
    throw e;
  }
  closeSync(fd);
  try {
    fsStep(`cannot rename ${temp} to ${file}`, () => renameSync(temp, file));
  } catch (e) {
    removeQuietly(temp);
    throw e;
  }
  syncDir(dir);
}

/** Finds what saveConfigured saved, for a server started with `startKey`, and checks everything before reading it. */
export function loadConfigured(dir: string, startKey: string | undefined): FoundState {
  const uid = ownUid();
  const refused = (reason: string): FoundState => ({ kind: 'refused', reason });
  try {
    const unsafe = unsafeAncestor(dir, uid);
    if (unsafe) return unsafe.missing ? { kind: 'none' } : refused(unsafe.reason);
    const st = lstatOrNull(dir);
    if (!st) return { kind: 'none' };
    const wrong = wrongDir(dir, st, uid);
    if (wrong) return refused(wrong);
    const file = join(dir, STATE_FILE);
    let fd: number;
    try {
      // O_NONBLOCK: a FIFO planted there cannot hold the open.
      fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return { kind: 'none' };
      return refused(code === 'ELOOP' ? `${file} is a symbolic link` : `${file} cannot be opened (${code ?? (e as Error).message})`);
    }
    let text: string;
    try {
      const fst = fstatSync(fd);
      if (!fst.isFile()) return refused(`${file} is not a regular file`);
      if (fst.uid !== uid) return refused(`${file} is owned by uid ${fst.uid}, not the server's uid ${uid}`);
      if ((fst.mode & 0o7777) !== 0o600) return refused(`${file} has mode ${(fst.mode & 0o7777).toString(8).padStart(4, '0')}, not 0600`);
      if (fst.nlink !== 1) return refused(`${file} has ${fst.nlink} hard links`);
      if (fst.size > MAX_STATE_BYTES) return refused(`${file} is larger than ${MAX_STATE_BYTES} bytes`);
      const buffer = Buffer.alloc(MAX_STATE_BYTES + 1);
      let length = 0;
      for (let got = -1; got !== 0 && length < buffer.length; length += got) got = readSync(fd, buffer, length, buffer.length - length, null);
      if (length > MAX_STATE_BYTES) return refused(`${file} is larger than ${MAX_STATE_BYTES} bytes`);
      text = buffer.toString('utf8', 0, length);
    } finally {
      closeSync(fd);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return refused(`${file} is not JSON`);
    }
    const parsed = SavedState.safeParse(json);
    if (!parsed.success) return refused(`${file} does not hold a saved configuration (${[...new Set(parsed.error.issues.map((i) => i.path.join('.') || 'the top'))].join(', ')})`);
    if (!timingSafeEqual(Buffer.from(parsed.data.start_key_sha256), Buffer.from(keyHash(startKey)))) {
      return refused(`${file} was saved by a server started with another key`);
    }
    return { kind: 'saved', body: parsed.data.configure };
  } catch (e) {
    return refused(`${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/**
 * The first ancestor of `dir` (from / down) that someone other than root or the server could
 * change, replacing the state dir: a symbolic link, not a directory, owned by another uid, or
 * writable by group or others without the sticky bit; or the first missing one (`missing`).
 */
function unsafeAncestor(dir: string, uid: number): { reason: string; missing?: true } | undefined {
  const parts = dir.split('/').filter(Boolean);
  for (let i = 0; i < parts.length; i++) {
    const path = '/' + parts.slice(0, i).join('/');
    const st = lstatOrNull(path);
    if (!st) return { reason: `${path} does not exist`, missing: true };
    if (st.isSymbolicLink()) return { reason: `${path} is a symbolic link` };
    if (!st.isDirectory()) return { reason: `${path} is not a directory` };
    if (st.uid !== 0 && st.uid !== uid) return { reason: `${path} is owned by uid ${st.uid}, who could replace the state dir` };
    if (st.mode & 0o022 && !(st.mode & 0o1000)) return { reason: `${path} is writable by group or others without the sticky bit` };
  }
  return undefined;
}

/** Why the state dir itself cannot be trusted, if it cannot. */
function wrongDir(dir: string, st: Stats, uid: number): string | undefined {
  if (st.isSymbolicLink()) return `${dir} is a symbolic link`;
  if (!st.isDirectory()) return `${dir} is not a directory`;
  if (st.uid !== uid) return `${dir} is owned by uid ${st.uid}, not the server's uid ${uid}`;
  if (st.mode & 0o022) return `${dir} is writable by group or others`;
  return undefined;
}

function keyHash(key: string | undefined): string {
  return createHash('sha256')
    .update(key ?? '')
    .digest('hex');
}

function ownUid(): number {
  const uid = process.getuid?.();
  if (uid === undefined) throw new Error('the state dir needs a POSIX system');
  return uid;
}

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** Runs a file system step; an error becomes "<what> (<code>)", unless its code is one of `ignore`. */
function fsStep<T>(what: string, step: () => T, ignore: string[] = []): T {
  try {
    return step();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code && ignore.includes(code)) return undefined as T;
    throw new Error(`${what} (${code ?? (e as Error).message})`);
  }
}

/** Makes the rename itself durable; a file system that cannot sync a directory is left as it is. */
function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // The file is renamed already; only its durability across a power loss is at stake.
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone, or the dir is read-only: the next save removes it first.
  }
}
