// Checking archive entry names and link targets so nothing lands outside the destination.
import { posix } from 'node:path';
import { ApiError } from '../errors.js';

export type EntryKind = 'file' | 'directory' | 'symlink' | 'hardlink';

/** One archive member, as both unpackers see it. */
export interface ArchiveEntry {
  /** Normalized relative path with '/' separators, no trailing '/'. */
  path: string;
  kind: EntryKind;
  /** Permission bits (0o7777 at most). */
  mode: number;
  /** Symlink target as stored, or the hardlink's (normalized) source path. */
  target?: string;
}

/** True for the archive's own root (`./`, as `tar -C dir .` writes it): nothing to create. */
export function isRootEntry(raw: string): boolean {
  return posix.normalize(raw.replace(/\\/g, '/')).replace(/\/+$/, '') === '.';
}

/** The normalized relative path of `raw`, or a 400 naming the entry when it escapes. */
export function safeEntryPath(raw: string): string {
  const name = raw.replace(/\\/g, '/');
  if (name.startsWith('/') || /^[a-zA-Z]:/.test(name)) throw bad(raw, 'is an absolute path');
  if (name.split('/').includes('..')) throw bad(raw, 'contains ".."');
  const normal = posix.normalize(name).replace(/\/+$/, '');
  if (normal === '' || normal === '.') throw bad(raw, 'has an empty name');
  return normal;
}

/** A 400 unless the symlink at `path` pointing at `target` resolves inside the destination. */
export function checkLinkTarget(path: string, target: string): void {
  if (target === '' || target.includes('\0')) throw bad(path, 'is a symlink with an empty target');
  if (posix.isAbsolute(target)) throw bad(path, `is a symlink to an absolute path (${target})`);
  const resolved = posix.normalize(posix.join(posix.dirname(path), target));
  if (resolved === '..' || resolved.startsWith('../')) throw bad(path, `is a symlink pointing outside the destination (${target})`);
}

/** Checks the whole entry list before anything is written: names, links, paths through links. */
export function validateEntries(entries: ArchiveEntry[]): void {
  const links = new Set<string>();
  for (const e of entries) {
    if (e.kind === 'symlink') {
      checkLinkTarget(e.path, e.target ?? '');
      links.add(e.path);
    }
  }
  for (const e of entries) {
    const parts = e.path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      if (links.has(prefix)) throw bad(e.path, `is written through the symlink ${prefix}`);
    }
  }
}

export function bad(entry: string, why: string): ApiError {
  return new ApiError('bad_request', `archive entry ${JSON.stringify(entry)} ${why}; nothing was extracted`, { entry });
}
