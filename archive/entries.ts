// Checking archive entry names and link targets so nothing lands outside the destination.
import { posix } from 'node:path';
import { LinkResolver, MAX_LINKS } from './links.js';

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
  /** Modification time, restored on files and directories when the archive has one. */
  mtime?: Date;
}

/**
 * Why an archive could not be made or unpacked (the package's one error; `code` says which):
 * - `unsafe_entry`: an entry would land outside the destination (`../`, an absolute path, a link
 *   that leads out, alone or through the archive's other links, a write through a link)
 * - `too_large`: it would unpack to more than the budget (ArchiveTooLargeError, with `limitBytes`)
 * - `damaged`: an entry's data does not match its CRC-32
 * - `unreadable`: not a tar or zip, or cut short
 * - `unpackable`: what was asked to be packed is not a file, a directory or a symlink
 * - `changed`: a file shrank while it was being packed
 * - `closed`: the receiver went away before the archive was sent
 */
export type ArchiveErrorCode = 'unsafe_entry' | 'too_large' | 'damaged' | 'unreadable' | 'unpackable' | 'changed' | 'closed';

/**
 * An archive that cannot be made, or unpacked safely or at all; nothing of an unpack was left on
 * disk. The server answers 400 with the message (413 for `too_large`), the client throws it as a
 * 'bad_action' RuntimeError.
 */
export class ArchiveError extends Error {
  constructor(
    message: string,
    /** The offending entry's name as stored, when one entry is to blame. */
    readonly entry?: string,
    readonly code: ArchiveErrorCode = 'unsafe_entry',
  ) {
    super(message);
    this.name = 'ArchiveError';
  }
}

/** True for the archive's own root (`./`, as `tar -C dir .` writes it): nothing to create. */
export function isRootEntry(raw: string): boolean {
  return posix.normalize(raw.replace(/\\/g, '/')).replace(/\/+$/, '') === '.';
}

/** The normalized relative path of `raw`, or an ArchiveError naming the entry when it escapes. */
export function safeEntryPath(raw: string): string {
  const name = raw.replace(/\\/g, '/');
  if (name.startsWith('/') || /^[a-zA-Z]:/.test(name)) throw bad(raw, 'is an absolute path');
  if (name.split('/').includes('..')) throw bad(raw, 'contains ".."');
  if (name.includes('\0')) throw bad(raw, 'has a NUL byte in its name');
  const normal = posix.normalize(name).replace(/\/+$/, '');
  if (normal === '' || normal === '.') throw bad(raw, 'has an empty name');
  return normal;
}

/**
 * Throws when the symlink at `path` pointing at `target` leaves the destination on its own (an
 * absolute or empty target, too many `..`): checked as each link arrives. Where it leads through
 * the archive's other links is checked by validateEntries.
 */
export function checkLinkTarget(path: string, target: string): void {
  if (target === '' || target.includes('\0')) throw bad(path, 'is a symlink with an empty target');
  if (posix.isAbsolute(target)) throw bad(path, `is a symlink to an absolute path (${target})`);
  const resolved = posix.normalize(posix.join(posix.dirname(path), target));
  if (resolved === '..' || resolved.startsWith('../')) throw bad(path, `is a symlink pointing outside the destination (${target})`);
}

/**
 * Throws when `path` would be written through one of the symlinks in `links` (paths of symlink
 * entries); `entry` names the entry to blame when `path` is a hard link's source.
 */
export function checkNotThroughLink(path: string, links: ReadonlySet<string>, entry = path): void {
  if (links.size === 0) return;
  let at = path.indexOf('/');
  while (at !== -1) {
    const prefix = path.slice(0, at);
    if (links.has(prefix)) throw bad(entry, entry === path ? `is written through the symlink ${prefix}` : `is a hard link to ${path}, which is reached through the symlink ${prefix}`);
    at = path.indexOf('/', at + 1);
  }
}

/**
 * Checks the whole entry list before any symlink is made (and, for a zip, before anything is
 * written): names, paths through links, and where each symlink leads once every link of the
 * archive exists (see links.ts). Entry paths and hard-link sources never pass through a symlink
 * (refused), so they resolve to themselves; only symlink targets need resolving.
 */
export function validateEntries(entries: ArchiveEntry[]): void {
  const links = new Map<string, string>();
  for (const e of entries) {
    if (e.kind !== 'symlink') continue;
    checkLinkTarget(e.path, e.target ?? '');
    if (links.has(e.path)) throw bad(e.path, 'is a symlink, and another entry has the same name');
    links.set(e.path, e.target ?? '');
  }
  const names = new Set(links.keys());
  for (const e of entries) {
    checkNotThroughLink(e.path, names);
    if (e.kind !== 'symlink' && links.has(e.path)) throw bad(e.path, 'is a symlink, and another entry has the same name');
    if (e.kind === 'hardlink') checkNotThroughLink(e.target!, names, e.path);
  }
  const resolver = new LinkResolver(links);
  for (const [path, target] of links) {
    const r = resolver.resolve(path);
    if (r.inside) continue;
    const via = r.via.length === 0 ? '' : `, through the symlink${r.via.length > 1 ? 's' : ''} ${r.via.join(', ')}`;
    if (r.why === 'above') throw bad(path, `is a symlink pointing outside the destination (${target}${via})`);
    if (r.why === 'absolute') throw bad(path, `is a symlink to an absolute path (${target}${via})`);
    throw bad(path, `is a symlink that cannot be resolved: it leads through more than ${MAX_LINKS} symlinks (${target}${via})`);
  }
}

/**
 * An archive that would unpack to more bytes than allowed; nothing of it was left on disk. The
 * server answers 413 `payload_too_large`, the client throws a 'bad_action' RuntimeError.
 */
export class ArchiveTooLargeError extends ArchiveError {
  constructor(
    message: string,
    /** The limit that was reached, in bytes. */
    readonly limitBytes: number,
  ) {
    super(message, undefined, 'too_large');
    this.name = 'ArchiveTooLargeError';
  }
}

export function bad(entry: string, why: string, code: ArchiveErrorCode = 'unsafe_entry'): ArchiveError {
  return new ArchiveError(`archive entry ${JSON.stringify(entry)} ${why}; nothing was extracted`, entry, code);
}
