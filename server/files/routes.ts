// The file-transfer routes of PROTOCOL.md ("Files over HTTP") on an express app. The transfer code
// (busboy, the archive package with tar-stream, yazl and yauzl) is loaded on the first upload or
// download, not at start: an idle server, which most sandboxes are, never holds it.
import type { Express, Request, RequestHandler } from 'express';
import { lstat } from 'node:fs/promises';
import { isAbsolute, resolve, basename } from 'node:path';
import { ApiError } from '../errors.js';
import { listFiles } from './list.js';
import type { MinUploadRate } from './receive.js';
import type { Owner } from './upload.js';

export interface FileRoutesContext {
  /** Uploads larger than this many MiB get 413. */
  maxUploadMb: number;
  /**
   * Archives (recursive uploads) that unpack to more than this many MiB get 413, and nothing of
   * them is left. Default 10240.
   */
  maxUnpackedMb?: number;
  /** Owner of uploaded files when the server runs as root for another user. */
  owner?: Owner;
  /** The slowest an upload may arrive before it is cut off with 408 (default 16 KiB/s after the first minute). */
  minUploadRate?: MinUploadRate;
  /** Where relative or missing list_files paths start: the default session's cwd. */
  cwd: () => string;
  json: RequestHandler;
}

/** What an upload may unpack to when the server is not told, in MiB: the same as --max-upload-mb's default. */
export const DEFAULT_MAX_UNPACKED_MB = 10240;

export function registerFileRoutes(app: Express, ctx: FileRoutesContext): void {
  app.post('/upload_file', async (req, res, next) => {
    try {
      const destination = query(req, 'destination');
      if (!destination) throw new ApiError('bad_request', 'the query parameter "destination" (an absolute directory) is required');
      const maxBytes = ctx.maxUploadMb * 2 ** 20;
      const [{ drain, DRAIN_LIMIT_BYTES }, { handleUpload }] = await Promise.all([import('./receive.js'), import('./upload.js')]);
      // A declared length far over the limit is refused before reading it (multipart adds a few headers).
      const declared = Number(req.get('content-length'));
      if (declared > maxBytes + 2 ** 20) {
        // A client still sending gets a broken pipe, not this answer, if the socket closes now: read
        // and discard a moderate excess first; close at once only on an absurd one.
        if (declared - maxBytes <= DRAIN_LIMIT_BYTES) await drain(req, DRAIN_LIMIT_BYTES);
        else res.setHeader('connection', 'close');
        throw new ApiError('payload_too_large', `the uploaded file is larger than ${ctx.maxUploadMb} MiB`);
      }
      const result = await handleUpload(req, {
        destination,
        recursive: flag(query(req, 'recursive')),
        format: format(req),
        maxBytes,
        maxUnpackedBytes: (ctx.maxUnpackedMb ?? DEFAULT_MAX_UNPACKED_MB) * 2 ** 20,
        owner: ctx.owner,
        minRate: ctx.minUploadRate,
      });
      res.json({ destination, paths: result.paths, bytes: result.bytes });
    } catch (e) {
      next(e);
    }
  });

  app.get('/download_files', async (req, res, next) => {
    try {
      const path = query(req, 'path');
      if (!path || !isAbsolute(path)) throw new ApiError('bad_request', 'the query parameter "path" must be an absolute path');
      const fmt = format(req);
      const { packable, writeTar, writeZip } = await import('@runtime-client/archive');
      const st = await lstat(path).catch(() => null);
      if (!st) throw new ApiError('not_found', `no such file or directory: ${path}`);
      if (!packable(st)) throw new ApiError('bad_request', `${path} is not a file, a directory or a symlink (a named pipe, socket or device cannot be downloaded)`);
      const name = `${basename(path) || 'root'}.${fmt}`;
      res.setHeader('content-type', fmt === 'tar' ? 'application/x-tar' : 'application/zip');
      res.attachment(name);
      try {
        await (fmt === 'tar' ? writeTar(path, res) : writeZip(path, res, flag(query(req, 'compress'))));
        res.end();
      } catch (e) {
        // Headers are sent: the only way left to say "incomplete" is to cut the connection.
        if (!res.headersSent) throw e;
        res.destroy(e as Error);
      }
    } catch (e) {
      next(e);
    }
  });

  app.post('/list_files', ctx.json, async (req, res, next) => {
    try {
      const given = (req.body as { path?: unknown } | undefined)?.path;
      if (given !== undefined && given !== null && typeof given !== 'string') throw new ApiError('bad_request', 'path: expected a string');
      res.json(await listFiles(given ? resolve(ctx.cwd(), given) : ctx.cwd()));
    } catch (e) {
      next(e);
    }
  });
}

function query(req: Request, name: string): string | undefined {
  const v = req.query[name];
  return typeof v === 'string' ? v : undefined;
}

function flag(v: string | undefined): boolean {
  return v === 'true' || v === '1' || v === 'yes';
}

function format(req: Request): 'zip' | 'tar' {
  const f = query(req, 'format') ?? 'zip';
  if (f !== 'zip' && f !== 'tar') throw new ApiError('bad_request', `format must be "zip" or "tar", got ${JSON.stringify(f)}`);
  return f;
}
