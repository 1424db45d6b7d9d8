// Unpacking a tar as it streams in: each entry is checked before it is written, files go straight
// to disk, symlinks are made last (after every entry was checked against them), so nothing is ever
// written through a link or outside the directory.
import { createWriteStream } from 'node:fs';
import { link, mkdir, symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { ArchiveError, bad, checkLinkTarget, checkNotThroughLink, isRootEntry, safeEntryPath, validateEntries, type ArchiveEntry } from './entries.js';

/**
 * Unpacks the tar read from `input` into the empty directory `into` (a staging directory: on an
 * error the caller removes it) and returns the entries written. Modes are not applied here.
 */
export async function untarStream(input: Readable, into: string): Promise<ArchiveEntry[]> {
  const entries: ArchiveEntry[] = [];
  const files = new Set<string>();
  const links = new Set<string>();
  const dirs = new Dirs(into);

  const write = async (header: tar.Header, stream: Readable): Promise<void> => {
    if (isRootEntry(header.name)) return void stream.resume();
    const e = toEntry(header);
    checkNotThroughLink(e.path, links);
    entries.push(e);
    const target = join(into, e.path);
    switch (e.kind) {
      case 'file':
        await dirs.make(dirname(e.path));
        await pipeline(stream, createWriteStream(target, { mode: 0o600 }));
        files.add(e.path);
        return;
      case 'directory':
        stream.resume();
        return dirs.make(e.path);
      case 'hardlink':
        stream.resume();
        if (!files.has(e.target!)) throw bad(e.path, `is a hard link to ${e.target}, which is not a file before it in the archive`);
        await dirs.make(dirname(e.path));
        return link(join(into, e.target!), target);
      case 'symlink':
        stream.resume();
        checkLinkTarget(e.path, e.target!);
        links.add(e.path);
    }
  };

  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    write(header, stream as unknown as Readable).then(() => next(), (e: Error) => extract.destroy(e));
  });
  try {
    await pipeline(input, extract as unknown as Writable);
  } catch (e) {
    throw asArchiveError(e as NodeJS.ErrnoException, 'tar');
  }
  // A symlink that came after entries written through its path is caught here, before it exists.
  validateEntries(entries);
  try {
    for (const e of entries) {
      if (e.kind !== 'symlink') continue;
      await dirs.make(dirname(e.path));
      await symlink(e.target!, join(into, e.path));
    }
  } catch (e) {
    throw asArchiveError(e as NodeJS.ErrnoException, 'tar');
  }
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
  return new ArchiveError(`the ${format} could not be unpacked: ${e.message}; nothing was extracted`);
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
