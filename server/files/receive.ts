// Streaming the multipart field `file` of an upload to a temp file, never holding it in memory.
import busboy from 'busboy';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { Request } from 'express';
import { ApiError } from '../errors.js';

export interface Received {
  /** The temp file holding the upload. */
  tempPath: string;
  /** The client's file name (basename only). */
  filename: string;
  bytes: number;
}

/**
 * Writes the `file` field to `tempPath`. Over `maxBytes` the temp file is removed, the rest of the
 * body is drained and a 413 thrown; no `file` field → 400.
 */
export function receiveFile(req: Request, tempPath: string, maxBytes: number): Promise<Received> {
  return new Promise((resolve, reject) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({ headers: req.headers, limits: { fileSize: maxBytes, files: 1 } });
    } catch (e) {
      return reject(new ApiError('bad_request', `expected a multipart/form-data body with a field "file": ${(e as Error).message}`));
    }
    let writing: Promise<Received> | null = null;
    bb.on('file', (field, stream, info) => {
      if (field !== 'file' || writing) return void stream.resume();
      let bytes = 0;
      let truncated = false;
      stream.on('data', (chunk: Buffer) => (bytes += chunk.length));
      stream.on('limit', () => (truncated = true));
      const filename = (info.filename ?? 'upload').split(/[\\/]/).pop() || 'upload';
      writing = pipeline(stream, createWriteStream(tempPath, { mode: 0o600 })).then(async () => {
        if (truncated) {
          await rm(tempPath, { force: true });
          throw new ApiError('payload_too_large', `the uploaded file is larger than ${maxBytes / 2 ** 20} MiB`);
        }
        return { tempPath, filename, bytes };
      });
      writing.catch(() => {}); // reported on 'close'
    });
    bb.on('error', (e) => {
      req.unpipe(bb);
      req.resume();
      void rm(tempPath, { force: true });
      reject(new ApiError('bad_request', `malformed multipart body: ${(e as Error).message}`));
    });
    bb.on('close', () => {
      if (!writing) return reject(new ApiError('bad_request', 'the multipart body has no field "file"'));
      writing.then(resolve, async (e) => {
        await rm(tempPath, { force: true });
        reject(e);
      });
    });
    req.on('aborted', () => void rm(tempPath, { force: true }));
    req.pipe(bb);
  });
}
