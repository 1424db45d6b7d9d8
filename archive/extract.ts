// Unpacking into a directory through a private staging directory inside it: everything is
// written and given its modes there, then moved into place; on any error nothing is left.
import { randomBytes } from 'node:crypto';
import { chmod, lchown, lstat, mkdir, readdir, rename, rm, rmdir, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import type { ArchiveEntry } from './entries.js';

/** Who owns what an unpack creates: the session user when the server runs as root for another. */
export interface Owner {
  uid: number;
  gid: number;
}

/** An archive unpacked into its staging directory, not yet visible in the destination. */
export interface Staged {
  /** Moves the staged tree into the destination; returns the absolute top-level paths written. */
  commit(): Promise<string[]>;
  /** Removes what is still staged (after commit: nothing). Safe to call twice. */
  discard(): Promise<void>;
}

/**
 * Runs `unpack` on a fresh staging directory inside `destination` (which must exist) and applies
 * the entries' modes and times (and `owner`). On a throw the staging directory is removed.
 * commit() then moves the tree into `destination`: new names are renamed in, directories merged,
 * other existing names replaced.
 */
export async function stageArchive(
  destination: string,
  unpack: (staging: string) => Promise<ArchiveEntry[]>,
  opts: { owner?: Owner } = {},
): Promise<Staged> {
  const staging = join(destination, `.rc-extract-${randomBytes(6).toString('hex')}.d`);
  const discard = () => rm(staging, { recursive: true, force: true });
  try {
    await mkdir(staging, { mode: 0o700 });
    const entries = await unpack(staging);
    await applyMetadata(staging, entries);
    if (opts.owner) await chownTree(staging, opts.owner);
  } catch (e) {
    await discard();
    throw e;
  }
  return {
    async commit() {
      const top = await readdir(staging);
      try {
        await moveInto(staging, destination);
      } finally {
        await discard();
      }
      return top.map((name) => join(destination, name));
    },
    discard,
  };
}

/** stageArchive then commit: the archive lands in `destination` whole, or not at all. */
export async function extractInto(
  destination: string,
  unpack: (staging: string) => Promise<ArchiveEntry[]>,
  opts: { owner?: Owner } = {},
): Promise<string[]> {
  return (await stageArchive(destination, unpack, opts)).commit();
}

/** Modes and mtimes; directories last and deepest first, so a read-only one is filled first. */
async function applyMetadata(root: string, entries: ArchiveEntry[]): Promise<void> {
  for (const e of entries) {
    if (e.kind !== 'file') continue;
    const path = join(root, e.path);
    await chmod(path, e.mode);
    if (e.mtime) await utimes(path, e.mtime, e.mtime);
  }
  const dirs = entries.filter((e) => e.kind === 'directory').sort((a, b) => b.path.length - a.path.length);
  for (const d of dirs) {
    const path = join(root, d.path);
    await chmod(path, d.mode | 0o700);
    if (d.mtime) await utimes(path, d.mtime, d.mtime);
  }
}

async function chownTree(path: string, owner: Owner): Promise<void> {
  await lchown(path, owner.uid, owner.gid);
  const st = await lstat(path);
  if (!st.isDirectory()) return;
  for (const name of await readdir(path)) await chownTree(join(path, name), owner);
}

async function moveInto(from: string, to: string): Promise<void> {
  for (const name of await readdir(from)) {
    const src = join(from, name);
    const dst = join(to, name);
    const existing = await lstat(dst).catch(() => null);
    const srcStat = await lstat(src);
    if (existing?.isDirectory() && srcStat.isDirectory()) {
      await moveInto(src, dst);
      await chmod(dst, srcStat.mode & 0o7777);
      await rmdir(src);
      continue;
    }
    if (existing) await rm(dst, { recursive: true, force: true });
    await rename(src, dst);
  }
}
