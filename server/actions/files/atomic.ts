// Writing a whole file the safe way: a temp file beside it, renamed over it, with the old file's mode
// and owner (or 0664 and the session user for a new one) and parents created for the session user.
// A file with several hard links is rewritten in place instead: a rename would leave the other names
// on the old content. A character device is written into (write.ts refuses pipes and other devices).
import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import { chmod, chown, mkdir, open, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import type { FileAccess } from './access.js';
import { fromFsError } from './errors.js';

/** Mode of a file the server creates. */
export const NEW_FILE_MODE = 0o664;

/**
 * Replaces (or creates) `path` with `content`; `existing` is its stat if it exists (through a
 * symlink: the stat of the file it points to, which is the one rewritten; the link stays).
 */
export async function writeWhole(access: FileAccess, path: string, content: string | Buffer, existing: Stats | undefined): Promise<void> {
  try {
    const target = existing ? await realpath(path) : path;
    if (existing?.isCharacterDevice()) return await writeToDevice(target, content);
    if (existing?.isFile() && existing.nlink > 1) return await writeInPlace(target, content);
    if (!existing) await makeParents(access, dirname(path));
    const mode = existing ? existing.mode & 0o7777 : NEW_FILE_MODE;
    const temp = join(dirname(target), `.${basename(target)}.rc-${randomBytes(6).toString('hex')}.tmp`);
    try {
      await writeFile(temp, content, { mode: 0o600, flag: 'wx' });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // A writable file in a directory we may not write: write it in place instead.
      if (existing && (code === 'EACCES' || code === 'EPERM')) return await writeInPlace(target, content);
      throw e;
    }
    try {
      await chmod(temp, mode);
      if (existing) {
        if (process.getuid?.() === 0) await chown(temp, existing.uid, existing.gid);
      } else {
        await access.adopt(temp);
      }
      await rename(temp, target);
    } catch (e) {
      await rm(temp, { force: true });
      throw e;
    }
  } catch (e) {
    throw fromFsError(e, path);
  }
}

/** Rewrites the existing file `target` through its inode: every hard link sees it, mode and owner stay. */
async function writeInPlace(target: string, content: string | Buffer): Promise<void> {
  const data = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
  const handle = await open(target, 'r+');
  try {
    await handle.writeFile(data); // from offset 0 of a fresh handle, every byte
    await handle.truncate(data.length);
  } finally {
    await handle.close();
  }
}

/** Writes into a character device (/dev/null, a terminal): it stays what it is. */
async function writeToDevice(target: string, content: string | Buffer): Promise<void> {
  const handle = await open(target, 'w');
  try {
    await handle.writeFile(content);
  } finally {
    await handle.close();
  }
}

/** Creates `dir` and its missing parents, each owned by the session user. */
function makeParents(access: FileAccess, dir: string): Promise<void> {
  return makeDirs(dir, (path) => access.adopt(path));
}

/** mkdir -p, handing each directory it creates (outermost first) to `adopt`. */
export async function makeDirs(dir: string, adopt: (path: string) => Promise<void>): Promise<void> {
  const first = await mkdir(dir, { recursive: true });
  if (!first) {
    const info = await stat(dir);
    if (!info.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    return;
  }
  let current = first;
  await adopt(current);
  for (const part of relative(first, dir).split(sep).filter(Boolean)) {
    current = join(current, part);
    await adopt(current);
  }
}
