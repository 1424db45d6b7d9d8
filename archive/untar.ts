// Unpacking a tar as it streams in: each entry is checked before it is written, files go straight
// to disk, symlinks are made last (after every entry was checked against them), so nothing is ever
// written through a link or outside the directory.
import { createWriteStream } from 'node:fs';
import { link, mkdir, symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { UnpackBudget, type UnpackLimits } from './budget.js';
import { ArchiveError, bad, checkLinkTarget, checkNotThroughLink, isRootEntry, safeEntryPath, validateEntries, type ArchiveEntry } from './entries.js';

/**
 * Bytes a file being written may hold while its open or a write is in flight, so the stream
 * feeding it (a socket) keeps flowing meanwhile; buffered chunks go out in one writev.
 */
export const WRITE_BUFFER = 2 ** 20;

/**
 * Files still being flushed and closed while the next entries are read: a file's last write,
 * close and the next one's open then overlap the input instead of stalling it at every file.
 */
const FILES_IN_FLIGHT = 16;

/**
 * Unpacks the tar read from `input` into the empty directory `into` (a staging directory: on an
 * error the caller removes it; every write has ended by then) and returns the entries written.
 * Modes and times are not applied here. Past `limits.maxBytes` it fails with ArchiveTooLargeError.
 */
export async function untarStream(input: Readable, into: string, limits: UnpackLimits = {}): Promise<ArchiveEntry[]> {
  const budget = new UnpackBudget(limits.maxBytes ?? Infinity);
  const entries: ArchiveEntry[] = [];
  const files = new Set<string>();
  const links = new Set<string>();
  const dirs = new Dirs(into);
  /** Writes still running, by path; each settles (never rejects) when its file is closed. */
  const writing = new Map<string, Promise<void>>();
  let writeError: Error | null = null;
  const extract = tar.extract();

  const startFile = async (path: string, stream: Readable): Promise<void> => {
    await writing.get(path); // the same name twice: the second write comes after the first
    await dirs.make(dirname(path));
    while (writing.size >= FILES_IN_FLIGHT) await Promise.race(writing.values());
    // Destroyed meanwhile (the input ended short): a pipeline would wait for it forever.
    if (stream.destroyed) throw new ArchiveError(`the tar ended in the middle of ${JSON.stringify(path)}; nothing was extracted`, path, 'unreadable');
    const done = pipeline(stream, createWriteStream(join(into, path), { mode: 0o600, highWaterMark: WRITE_BUFFER })).then(
      () => {},
      (e: Error) => {
        writeError ??= e;
        extract.destroy(e);
      },
    );
    const settled = done.finally(() => writing.get(path) === settled && writing.delete(path));
    writing.set(path, settled);
    files.add(path);
  };

  const onEntry = async (header: tar.Header, stream: Readable): Promise<void> => {
    if (isRootEntry(header.name)) return void stream.resume();
    const e = toEntry(header);
    checkNotThroughLink(e.path, links);
    // A file's data is exactly its header's size (tar-stream hands over that many bytes, or fails
    // when the input ends first), so this counts what is written, before any of it is.
    if (e.kind === 'file') budget.spend(header.size ?? 0);
    if (e.kind === 'symlink') budget.spend(Buffer.byteLength(e.target!));
    entries.push(e);
    // A file still opening under a name this entry needs as a directory: let it exist first, so
    // the clash is seen as one (not a directory quietly made where the file was to be).
    for (let at = e.path.indexOf('/'); at !== -1; at = e.path.indexOf('/', at + 1)) await writing.get(e.path.slice(0, at));
    if (e.kind === 'file') return startFile(e.path, stream);
    stream.resume();
    switch (e.kind) {
      case 'directory':
        await writing.get(e.path);
        return dirs.make(e.path);
      case 'hardlink':
        if (!files.has(e.target!)) throw bad(e.path, `is a hard link to ${e.target}, which is not a file before it in the archive`);
        await writing.get(e.target!);
        await writing.get(e.path);
        await dirs.make(dirname(e.path));
        return link(join(into, e.target!), join(into, e.path));
      case 'symlink':
        checkLinkTarget(e.path, e.target!);
        links.add(e.path);
    }
  };

  // next() as soon as a file's data is handed to its writer: tar-stream reads the next header
  // only once that entry's stream has taken all its bytes.
  extract.on('entry', (header, stream, next) => {
    // An entry given up on (a refused name) is destroyed with the extract: its error is ours already.
    stream.on('error', () => {});
    onEntry(header, stream as unknown as Readable).then(() => next(), (e: Error) => extract.destroy(e));
  });
  try {
    await pipeline(input, extract as unknown as Writable);
    await Promise.all(writing.values());
    if (writeError) throw writeError;
  } catch (e) {
    await Promise.all(writing.values()); // nothing may still write into the staging dir
    throw asArchiveError((writeError ?? e) as NodeJS.ErrnoException, 'tar');
  }
  // A symlink that came after entries written through its path is caught here, before it exists.
  validateEntries(entries);
  await makeSymlinks(entries, dirs).catch((e: NodeJS.ErrnoException) => {
    throw asArchiveError(e, 'tar');
  });
  return entries;
}

/** Errors of the machine, not of the archive: they pass as they are. */
const MACHINE_ERRORS = new Set(['ENOSPC', 'EDQUOT', 'EACCES', 'EPERM', 'EROFS', 'EMFILE', 'ENFILE', 'EIO', 'ENOMEM']);

/**
 * Our own checks and the machine's errors (a full disk, a read-only file system) pass as they
 * are; anything else (a truncated stream, two entries that clash) is a broken archive.
 */
export function asArchiveError(e: NodeJS.ErrnoException, format: 'tar' | 'zip'): Error {
  if (e instanceof ArchiveError || (e.code !== undefined && MACHINE_ERRORS.has(e.code))) return e;
  return new ArchiveError(`the ${format} could not be unpacked: ${e.message}; nothing was extracted`, undefined, 'unreadable');
}

function toEntry(h: tar.Header): ArchiveEntry {
  const path = safeEntryPath(h.name);
  const mode = (h.mode ?? 0o644) & 0o7777;
  const mtime = h.mtime;
  switch (h.type) {
    case 'file':
    case 'contiguous-file':
      return { path, kind: 'file', mode, mtime };
    case 'directory':
      return { path, kind: 'directory', mode, mtime };
    case 'symlink':
      return { path, kind: 'symlink', mode: 0o777, target: h.linkname ?? '' };
    case 'link':
      return { path, kind: 'hardlink', mode, target: safeEntryPath(h.linkname ?? '') };
    default:
      throw bad(h.name, `has an unsupported type (${h.type})`);
  }
}

/** Creates the symlink entries (checked already), last, so nothing was written through one. */
export async function makeSymlinks(entries: ArchiveEntry[], dirs: Dirs): Promise<void> {
  for (const e of entries) {
    if (e.kind !== 'symlink') continue;
    await dirs.make(dirname(e.path));
    await symlink(e.target!, join(dirs.root, e.path));
  }
}

/** mkdir -p below a root, remembering what exists so a tree of many files costs one mkdir per directory. */
export class Dirs {
  readonly #made = new Set<string>(['.', '']);
  constructor(readonly root: string) {}

  async make(rel: string): Promise<void> {
    if (this.#made.has(rel)) return;
    await mkdir(join(this.root, rel), { recursive: true, mode: 0o755 });
    for (let p = rel; !this.#made.has(p); p = dirname(p)) this.#made.add(p);
  }
}
