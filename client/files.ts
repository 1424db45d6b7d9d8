// Moving files to and from a server: upload (a file, or a directory as a streamed tar or zip),
// download (an archive unpacked locally with the same checks the server applies) and list_files.
// Used through RuntimeClient's upload(), download() and listFiles().
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, mkdir, rm, rmdir } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { basename, dirname, join, resolve } from 'node:path';
import { Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describeBytes, UnpackBudget } from '@runtime-client/archive';
import { ArchiveError, ArchiveTooLargeError } from '@runtime-client/archive';
import { extractInto } from '@runtime-client/archive';
import { writeTar, writeZip } from '@runtime-client/archive';
import { untarStream, WRITE_BUFFER } from '@runtime-client/archive';
import { unzipFile } from '@runtime-client/archive';
import { RuntimeError } from './errors.js';
import { errorForStatus, errorForTransport } from './failures.js';
import { parse, TransportError, type HttpTransport } from './http.js';

export interface UploadOptions {
  /**
   * Unpack into `destination`. Default: true for a directory (sent as an archive of its
   * contents), false for a file (which lands as destination/<its name>); a file with `recursive:
   * true` must be an archive in `format`.
   */
  recursive?: boolean;
  /**
   * Archive format on the wire. Default 'tar' (streams straight to disk on the server; a zip is
   * spooled first), or 'zip' for a file named *.zip sent with `recursive: true`.
   */
  format?: 'zip' | 'tar';
  signal?: AbortSignal;
}

export interface UploadResult {
  /** Absolute paths written on the server (the file, or the archive's top-level entries). */
  paths: string[];
  /** Bytes received by the server: the file, or the archive. */
  bytes: number;
}

export interface DownloadOptions {
  /** Archive format on the wire. Default 'tar' (unpacked as it streams in; a zip is spooled to a temp file first). */
  format?: 'zip' | 'tar';
  /**
   * Bytes the archive may unpack to (file data and symlink targets), and bytes a zip may take
   * while it is spooled. Past it the download fails with 'bad_action' and nothing is left.
   * Default DEFAULT_MAX_UNPACKED_BYTES (10 GiB).
   */
  maxUnpackedBytes?: number;
  signal?: AbortSignal;
}

/** What a download may unpack to unless told, in bytes: 10 GiB, as the server's --max-unpacked-mb. */
export const DEFAULT_MAX_UNPACKED_BYTES = 10 * 2 ** 30;

export async function uploadPath(http: HttpTransport, url: string, localPath: string, destination: string, opts: UploadOptions = {}): Promise<UploadResult> {
  const st = await lstat(localPath).catch((e: Error) => {
    throw new RuntimeError('bad_action', `upload: cannot read ${localPath}: ${e.message}`, e);
  });
  const isDir = st.isDirectory();
  const recursive = opts.recursive ?? isDir;
  // An archive file sent to be unpacked says its format by its name unless told.
  const format = opts.format ?? (!isDir && /\.zip$/i.test(localPath) ? 'zip' : 'tar');
  if (isDir && !recursive) throw new RuntimeError('bad_action', `upload: ${localPath} is a directory; it can only be sent with recursive: true`);
  const query = new URLSearchParams({ destination, recursive: String(recursive), format });
  const boundary = `----runtime-client-${randomBytes(12).toString('hex')}`;
  const filename = isDir ? `${basename(resolve(localPath))}.${format}` : basename(localPath);
  const content = (out: Writable) => (isDir ? (format === 'tar' ? writeTar(localPath, out) : writeZip(localPath, out)) : pipeline(createReadStream(localPath, { highWaterMark: 2 ** 20 }), out, { end: false }));
  const body = multipart(boundary, filename, content);
  const res = await open(http, url, 'upload', {
    method: 'POST',
    path: `/upload_file?${query}`,
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    body,
    signal: opts.signal,
  });
  const answer = (await readJson(res)) as UploadResult;
  return { paths: answer.paths, bytes: answer.bytes };
}

export async function downloadPath(http: HttpTransport, url: string, remotePath: string, localDir: string, opts: DownloadOptions = {}): Promise<string[]> {
  const format = opts.format ?? 'tar';
  const maxBytes = opts.maxUnpackedBytes ?? DEFAULT_MAX_UNPACKED_BYTES;
  if (typeof maxBytes !== 'number' || !(maxBytes >= 0)) throw new TypeError(`options.maxUnpackedBytes must be a non-negative number, got ${JSON.stringify(maxBytes)}`);
  const res = await open(http, url, 'download', { method: 'GET', path: `/download_files?${new URLSearchParams({ path: remotePath, format })}`, signal: opts.signal });
  const made = await mkdir(localDir, { recursive: true });
  try {
    if (format === 'tar') return await extractInto(localDir, (staging) => untarStream(res, staging, { maxBytes }));
    const spool = join(localDir, `.rc-download-${randomBytes(6).toString('hex')}.zip`);
    try {
      await pipeline(res, capped(maxBytes), createWriteStream(spool, { mode: 0o600, highWaterMark: WRITE_BUFFER }));
      return await extractInto(localDir, (staging) => unzipFile(spool, staging, { maxBytes }));
    } finally {
      await rm(spool, { force: true });
    }
  } catch (e) {
    res.destroy();
    await removeEmptyDirs(localDir, made);
    if (e instanceof ArchiveTooLargeError) {
      throw new RuntimeError('bad_action', `download: the archive unpacks to more than ${describeBytes(maxBytes)} (maxUnpackedBytes); nothing was written`, { maxUnpackedBytes: maxBytes });
    }
    if (e instanceof ArchiveError) throw new RuntimeError('bad_action', `download: ${e.message}`, { entry: e.entry });
    if (!res.complete) throw new RuntimeError('disconnected', `download: the connection closed before the whole archive arrived: ${(e as Error).message}`, e);
    throw e;
  }
}

/** Passes bytes on until more than `maxBytes` have come: a zip that cannot unpack within the limit is not spooled whole. */
function capped(maxBytes: number): Transform {
  const budget = new UnpackBudget(maxBytes);
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      try {
        budget.spend(chunk.length);
        callback(null, chunk);
      } catch (e) {
        callback(e as Error);
      }
    },
  });
}

/** Removes `leaf` and its parents up to `top` (the first directory mkdir made), as long as they are empty. */
async function removeEmptyDirs(leaf: string, top: string | undefined): Promise<void> {
  if (top === undefined) return;
  for (let dir = resolve(leaf); ; dir = dirname(dir)) {
    if (!(await rmdir(dir).then(() => true, () => false))) return; // not empty: something else is there now
    if (dir === resolve(top) || dir === dirname(dir)) return;
  }
}

/** Sends the request; any answer but 2xx becomes the RuntimeError its status calls for. */
async function open(http: HttpTransport, url: string, what: string, req: Parameters<HttpTransport['open']>[0]): Promise<IncomingMessage> {
  let res: IncomingMessage;
  try {
    res = await http.open(req);
  } catch (e) {
    if (e instanceof TransportError && e.sysCode === 'EABORTED') throw new RuntimeError('disconnected', `${what}: aborted`, e);
    throw e instanceof TransportError ? errorForTransport(e, what, url) : e;
  }
  const status = res.statusCode ?? 0;
  if (status >= 200 && status < 300) return res;
  throw errorForStatus({ status, body: await readJson(res).catch(() => null) }, what);
}

async function readJson(res: IncomingMessage): Promise<unknown> {
  const parts: Buffer[] = [];
  for await (const part of res) parts.push(part as Buffer);
  return parse(Buffer.concat(parts).toString('utf8'));
}

/** The multipart/form-data body with what `content` writes as its one field "file". */
function multipart(boundary: string, filename: string, content: (out: Writable) => Promise<void>): (out: Writable) => Promise<void> {
  const name = filename.replace(/["\r\n\\]/g, '_');
  return async (out) => {
    out.write(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: application/octet-stream\r\n\r\n`);
    await content(out);
    out.write(`\r\n--${boundary}--\r\n`);
  };
}
