// The files that hold the whole output of observations too long for `content`. They live in
// directories only the server can write (so a session user cannot plant a symlink or a directory
// at a name the server is about to use), are created exclusively without following links, and
// are given to the session user through the open descriptor. Together they have a disk budget:
// when a new byte would not fit, the oldest finished files are deleted first; a file that still
// cannot grow is cut short, and its observation says so. A file is deleted when its observation
// leaves the result store.
import { closeSync, constants, fchownSync, openSync, unlinkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

export interface FileOwner {
  uid: number;
  gid: number;
}

const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW; // libuv adds O_CLOEXEC

/**
 * Creates `path` as a new regular file (never through a symlink, never over an existing name),
 * gives it to `owner` by descriptor, and returns the open descriptor.
 */
export function createPrivateFile(path: string, mode: number, owner?: FileOwner): number {
  const fd = openSync(path, CREATE_FLAGS, mode);
  try {
    if (owner) fchownSync(fd, owner.uid, owner.gid);
  } catch (e) {
    closeSync(fd);
    unlinkSync(path);
    throw e;
  }
  return fd;
}

/** A unique file name in a server-only directory: the time, a counter and random bytes. */
export function uniqueName(prefix: string, counter: number, ext: string): string {
  return `${prefix}-${Date.now()}-${counter}-${randomBytes(3).toString('hex')}${ext}`;
}

export class SpillFiles {
  /** Bytes written to each file, oldest file first. */
  private readonly sizes = new Map<string, number>();
  /** Files still being written (never deleted to make room). */
  private readonly writing = new Set<string>();
  private total = 0;
  private count = 0;

  /** @param budgetBytes all spill files together never hold more than this. */
  constructor(private readonly budgetBytes: number) {}

  /** Bytes held by spill files now. */
  get bytes(): number {
    return this.total;
  }

  /** Paths of the spill files that exist now. */
  get paths(): string[] {
    return [...this.sizes.keys()];
  }

  /** A new spill file in `dir`; throws what the file system said (ENOSPC, EACCES...). */
  create(dir: string, owner?: FileOwner): { fd: number; path: string } {
    const path = join(dir, uniqueName('output', ++this.count, '.log'));
    const fd = createPrivateFile(path, 0o600, owner);
    this.sizes.set(path, 0);
    this.writing.add(path);
    return { fd, path };
  }

  /** Whether `bytes` more may be written to `path`; deletes the oldest finished files to make room. */
  reserve(path: string, bytes: number): boolean {
    const size = this.sizes.get(path);
    if (size === undefined) return false;
    for (const [old] of this.sizes) {
      if (this.total + bytes <= this.budgetBytes) break;
      if (old !== path && !this.writing.has(old)) this.remove(old);
    }
    if (this.total + bytes > this.budgetBytes) return false;
    this.sizes.set(path, size + bytes);
    this.total += bytes;
    return true;
  }

  /** `path` is complete: it may now be deleted to make room for newer output. */
  finished(path: string): void {
    this.writing.delete(path);
  }

  /** Deletes `path` if it is one of ours (a path from an observation is never trusted further). */
  remove(path: string): void {
    const size = this.sizes.get(path);
    if (size === undefined) return;
    this.sizes.delete(path);
    this.writing.delete(path);
    this.total -= size;
    try {
      unlinkSync(path);
    } catch {
      // already gone with its directory
    }
  }
}

/** The store's onEvict for observations: a result leaving the store takes its spill file along. */
export function removeSpillOf(files: SpillFiles): (record: { observation: unknown }) => void {
  return (record) => {
    const meta = (record.observation as { meta?: { full_output_path?: unknown } } | null)?.meta;
    if (typeof meta?.full_output_path === 'string') files.remove(meta.full_output_path);
  };
}
