// Moving files to and from a server: upload (a file, or a directory as a streamed zip), download
// (an archive unpacked locally with the same checks the server applies), list_files.
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, mkdir, readdir, readlink, rm } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import yazl from 'yazl';
import { extractArchive } from '../server/files/upload.js';
import { RuntimeError } from './errors.js';

/** Where the server is: a RuntimeClient's `url` and the API key it was given. */
export interface FilesTarget {
  url: string;
  apiKey?: string;
}

export interface UploadOptions {
  /** Unpack into `destination`. Default: true for a directory (sent as a zip), false for a file. */
  recursive?: boolean;
  /** Archive format of a file uploaded with `recursive: true`. Default 'zip'. */
  format?: 'zip' | 'tar';
  signal?: AbortSignal;
}

export interface UploadResult {
  /** Absolute paths written on the server (the file, or the archive's top-level entries). */
  paths: string[];
  bytes: number;
}

/**
 * Uploads `localPath` into the server directory `destination` (absolute; created if missing).
 * A directory is zipped on the fly (modes and symlinks kept) and unpacked there; a file lands at
 * destination/<its name>, or is unpacked with `recursive: true`. Never holds the data in memory.
 */
export async function upload(target: FilesTarget, localPath: string, destination: string, opts: UploadOptions = {}): Promise<UploadResult> {
  const st = await lstat(localPath);
  const isDir = st.isDirectory();
  const recursive = opts.recursive ?? isDir;
  const format = isDir ? 'zip' : (opts.format ?? 'zip');
  const query = new URLSearchParams({ destination, recursive: String(recursive), format });
  const boundary = `----runtime-client-${randomBytes(12).toString('hex')}`;
  const filename = isDir ? `${basename(resolve(localPath))}.zip` : basename(localPath);
  const body = Readable.from(multipart(boundary, filename, isDir ? zipDirectory(localPath) : createReadStream(localPath)));
  const res = await send(target, `/upload_file?${query}`, {
    method: 'POST',
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    body: Readable.toWeb(body) as ReadableStream,
    duplex: 'half',
    signal: opts.signal,
  } as RequestInit);
  const answer = (await res.json()) as UploadResult;
  return { paths: answer.paths, bytes: answer.bytes };
}

export interface DownloadOptions {
  /** Archive format on the wire. Default 'tar' (keeps modes and symlinks everywhere). */
  format?: 'zip' | 'tar';
  signal?: AbortSignal;
}

/**
 * Downloads the server file or directory `remotePath` into `localDir` (created if missing): a
 * directory's contents land in `localDir`, a file as localDir/<its name>. The archive is spooled to
 * a temp file in `localDir` and unpacked with zip-slip and symlink checks. Returns the top-level
 * paths written.
 */
export async function download(target: FilesTarget, remotePath: string, localDir: string, opts: DownloadOptions = {}): Promise<string[]> {
  const format = opts.format ?? 'tar';
  const res = await send(target, `/download_files?${new URLSearchParams({ path: remotePath, format })}`, { signal: opts.signal });
  await mkdir(localDir, { recursive: true });
  const spool = join(localDir, `.rc-download-${randomBytes(6).toString('hex')}.${format}`);
  try {
    await pipeline(Readable.fromWeb(res.body as never), createWriteStream(spool, { mode: 0o600 }));
    return await extractArchive(spool, format, localDir);
  } finally {
    await rm(spool, { force: true });
  }
}

/** POST /list_files: directories first (trailing '/'), then files; `path` defaults to the session's cwd. */
export async function listFiles(target: FilesTarget, path?: string): Promise<string[]> {
  const res = await send(target, '/list_files', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(path === undefined ? {} : { path }),
  });
  return (await res.json()) as string[];
}

async function send(target: FilesTarget, path: string, init: RequestInit): Promise<Response> {
  const url = target.url.replace(/\/+$/, '') + path;
  const headers = { ...(init.headers as Record<string, string> | undefined), ...(target.apiKey ? { 'x-session-api-key': target.apiKey } : {}) };
  let res: Response;
  try {
    res = await fetch(url, { ...init, headers });
  } catch (e) {
    throw new RuntimeError('unavailable', `${path.split('?')[0]} failed: ${(e as Error).message}`, e);
  }
  if (res.ok) return res;
  const body = await res.json().catch(() => null);
  const message = (body as { error?: { message?: string } } | null)?.error?.message ?? `HTTP ${res.status}`;
  const code = res.status === 401 ? 'unauthorized' : res.status >= 500 ? 'unavailable' : 'bad_action';
  throw new RuntimeError(code, message, body);
}

async function* multipart(boundary: string, filename: string, content: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const name = filename.replace(/["\r\n\\]/g, '_');
  yield Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: application/octet-stream\r\n\r\n`);
  yield* content;
  yield Buffer.from(`\r\n--${boundary}--\r\n`);
}

/** A zip of the directory's contents, streamed: one file open at a time. */
function zipDirectory(root: string): Readable {
  const zip = new yazl.ZipFile();
  const add = async (dir: string, prefix: string): Promise<void> => {
    for (const name of (await readdir(dir)).sort()) {
      const abs = join(dir, name);
      const rel = prefix + name;
      const st = await lstat(abs);
      if (st.isSymbolicLink()) zip.addBuffer(Buffer.from(await readlink(abs)), rel, { mode: 0o120777, compress: false });
      else if (st.isDirectory()) {
        zip.addEmptyDirectory(rel, { mode: 0o040000 | (st.mode & 0o7777), mtime: st.mtime });
        await add(abs, rel + '/');
      } else if (st.isFile()) {
        zip.addReadStreamLazy(rel, { mode: st.mode, mtime: st.mtime, size: st.size, compressionLevel: 1 }, (cb) => cb(null, createReadStream(abs)));
      }
    }
  };
  const out = zip.outputStream as Readable;
  add(root, '').then(
    () => zip.end(),
    (e) => out.destroy(e as Error),
  );
  return out;
}
