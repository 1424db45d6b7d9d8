// Acting for the session user: a root server started with --username checks that user's permissions
// itself (the kernel would let root do anything) and gives what it creates to that user.
import { constants, type Stats } from 'node:fs';
import { access, chown, lstat, stat } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { FileError, fromFsError } from './errors.js';

export interface FileUser {
  uid: number;
  gid: number;
  /** Supplementary groups, the user's own gid included. */
  groups: number[];
}

const R = 4;
const W = 2;
const X = 1;

export class FileAccess {
  /** `user` is set only when the server acts for another user (root with --username). */
  constructor(readonly user?: FileUser) {}

  /** `path` made absolute against the session's cwd. */
  resolve(cwd: string, path: string): string {
    return isAbsolute(path) ? resolve(path) : resolve(cwd, path);
  }

  /** Throws unless the session user may read (`'r'`) or write (`'w'`) the existing `path`. */
  async check(path: string, want: 'r' | 'w'): Promise<Stats> {
    let info: Stats;
    try {
      info = await stat(path);
    } catch (e) {
      throw fromFsError(e, path);
    }
    if (this.user) {
      await this.checkSearch(dirname(path), path);
      const bits = info.isDirectory() && want === 'r' ? R | X : want === 'r' ? R : W;
      if (!this.allows(info, bits)) throw denied(path);
    } else if (process.getuid?.() !== 0) {
      try {
        await access(path, want === 'r' ? constants.R_OK : constants.W_OK);
      } catch (e) {
        throw fromFsError(e, path);
      }
    }
    return info;
  }

  /** Throws unless the session user may create `path` (and its missing parents). */
  async checkCreate(path: string): Promise<void> {
    if (!this.user) return; // the kernel checks for the server's own user
    let dir = dirname(path);
    for (;;) {
      const info = await lstat(dir).catch(() => undefined);
      if (info) {
        const target = info.isSymbolicLink() ? await stat(dir).catch(() => undefined) : info;
        if (!target) throw new FileError('ERROR_FILE_NOT_FOUND', `The path ${dir} does not exist. Please provide a valid path.`);
        if (!target.isDirectory()) throw new FileError('ERROR_NOT_DIRECTORY', `A component of the path ${path} is not a directory.`);
        await this.checkSearch(dirname(dir), path);
        if (!this.allows(target, W | X)) throw denied(path);
        return;
      }
      if (dir === dirname(dir)) return;
      dir = dirname(dir);
    }
  }

  /** Throws unless the session user may remove the existing `path` from its directory. */
  async checkRemove(path: string): Promise<void> {
    if (!this.user) return; // the kernel checks for the server's own user
    const dir = dirname(path);
    const [info, parent] = await Promise.all([lstat(path), stat(dir)]).catch((e: unknown) => {
      throw fromFsError(e, path);
    });
    await this.checkSearch(dirname(dir), path);
    if (!this.allows(parent, W | X)) throw denied(path);
    // A sticky directory (/tmp) lets only the file's or the directory's owner remove it.
    const sticky = (parent.mode & 0o1000) !== 0;
    if (sticky && this.user.uid !== 0 && info.uid !== this.user.uid && parent.uid !== this.user.uid) throw denied(path);
  }

  /** Gives a file or directory the server just created to the session user. */
  async adopt(path: string): Promise<void> {
    if (this.user) await chown(path, this.user.uid, this.user.gid);
  }

  /** Every directory from / down to `dir` must be searchable. */
  private async checkSearch(dir: string, forPath: string): Promise<void> {
    const parts: string[] = [];
    for (let d = dir; ; d = dirname(d)) {
      parts.unshift(d);
      if (d === dirname(d)) break;
    }
    for (const d of parts) {
      const info = await stat(d).catch(() => undefined);
      if (!info) return; // missing parents are reported by the operation itself
      if (!this.allows(info, X)) throw denied(forPath);
    }
  }

  private allows(info: Stats, bits: number): boolean {
    const user = this.user!;
    if (user.uid === 0) return true;
    const mode = info.mode;
    const granted = info.uid === user.uid ? (mode >> 6) & 7 : user.groups.includes(info.gid) ? (mode >> 3) & 7 : mode & 7;
    return (granted & bits) === bits;
  }
}

function denied(path: string): FileError {
  return new FileError('ERROR_PERMISSION_DENIED', `Permission denied: the session user may not access ${path}.`);
}
