// POST /upload_file: the body goes to a temp file beside the destination, then is renamed or
// unpacked into a staging dir and moved into place, so no half-written file is ever visible.
import { randomBytes } from 'node:crypto';
import { chmod, lchown, lstat, mkdir, readdir, rename, rm, rmdir } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import type { Request } from 'express';
import { ApiError } from '../errors.js';
import type { ArchiveEntry } from './entries.js';
import { receiveFile } from './receive.js';
import { untarInto } from './untar.js';
import { unzipInto } from './unzip.js';

/** Who owns what an upload creates: the session user when the server switches to one. */
export interface Owner {
  uid: number;
  gid: number;
}

export interface UploadOptions {
  destination: string;
  recursive: boolean;
  format: 'zip' | 'tar';
  maxBytes: number;
  owner?: Owner;
}

export interface UploadResult {
  /** Paths written (the file, or the archive's top-level entries), absolute. */
  paths: string[];
  bytes: number;
}

export async function handleUpload(req: Request, opts: UploadOptions): Promise<UploadResult> {
  const { destination, owner } = opts;
  if (!isAbsolute(destination)) throw new ApiError('bad_request', `destination must be an absolute path, got ${JSON.stringify(destination)}`);
  await mkdirOwned(destination, owner);
  const tag = `.rc-upload-${randomBytes(6).toString('hex')}`;
  const tempPath = join(destination, `${tag}.part`);
  const staging = join(destination, `${tag}.d`);
  try {
    const got = await receiveFile(req, tempPath, opts.maxBytes);
    if (!opts.recursive) {
      const final = join(destination, got.filename);
      if (owner) await lchown(tempPath, owner.uid, owner.gid);
      await chmod(tempPath, 0o644);
      await rename(tempPath, final);
      return { paths: [final], bytes: got.bytes };
    }
    const paths = await extractArchive(tempPath, opts.format, destination, { staging, owner });
    return { paths, bytes: got.bytes };
  } finally {
    await rm(tempPath, { force: true });
  }
}

/**
 * Unpacks the archive file into `destination` (which must exist): everything is checked and
 * written into a staging dir inside it first, then moved into place; on any error nothing is left.
 * Returns the absolute paths of the top-level entries.
 */
export async function extractArchive(
  archive: string,
  format: 'zip' | 'tar',
  destination: string,
  opts: { staging?: string; owner?: Owner } = {},
): Promise<string[]> {
  const staging = opts.staging ?? join(destination, `.rc-extract-${randomBytes(6).toString('hex')}.d`);
  try {
    await mkdir(staging, { mode: 0o700 });
    const entries = format === 'tar' ? await untarInto(archive, staging) : await unzipInto(archive, staging);
    await applyModes(staging, entries);
    if (opts.owner) await chownTree(staging, opts.owner);
    const top = await readdir(staging);
    await moveInto(staging, destination);
    return top.map((name) => join(destination, name));
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** Sets each entry's mode; directories last and deepest first, so a read-only one is filled first. */
async function applyModes(root: string, entries: ArchiveEntry[]): Promise<void> {
  for (const e of entries) if (e.kind === 'file') await chmod(join(root, e.path), e.mode);
  const dirs = entries.filter((e) => e.kind === 'directory').sort((a, b) => b.path.length - a.path.length);
  for (const d of dirs) await chmod(join(root, d.path), d.mode | 0o700);
}

async function chownTree(path: string, owner: Owner): Promise<void> {
  await lchown(path, owner.uid, owner.gid);
  const st = await lstat(path);
  if (!st.isDirectory()) return;
  for (const name of await readdir(path)) await chownTree(join(path, name), owner);
}

/** Moves staged entries into `to`: new names are renamed, directories merged, others replaced. */
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

/** mkdir -p, giving each directory it creates to `owner`. */
async function mkdirOwned(dir: string, owner?: Owner): Promise<void> {
  const first = await mkdir(dir, { recursive: true });
  if (!owner || !first) return;
  let path = dir;
  while (path.length >= first.length) {
    await lchown(path, owner.uid, owner.gid);
    path = join(path, '..');
  }
}
