// POST /list_files: directories first (with a trailing '/'), then files, case-insensitive order.
import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { ApiError } from '../errors.js';

export async function listFiles(path: string): Promise<string[]> {
  const st = await stat(path).catch(() => null);
  if (!st) throw new ApiError('not_found', `no such file or directory: ${path}`);
  if (!st.isDirectory()) return [basename(path)];
  const dirs: string[] = [];
  const files: string[] = [];
  for (const d of await readdir(path, { withFileTypes: true })) {
    // A symlink to a directory lists as a directory.
    const isDir = d.isDirectory() || (d.isSymbolicLink() && (await stat(join(path, d.name)).catch(() => null))?.isDirectory());
    if (isDir) dirs.push(d.name + '/');
    else files.push(d.name);
  }
  const order = (a: string, b: string) => a.toLowerCase().localeCompare(b.toLowerCase()) || (a < b ? -1 : a > b ? 1 : 0);
  return [...dirs.sort(order), ...files.sort(order)];
}
