// Reading the multipart field `file` of an upload as a stream, handed to a sink that writes it
// somewhere; never held in memory.
import busboy from 'busboy';
import type { Readable } from 'node:stream';
import type { Request } from 'express';
import { ApiError } from '../errors.js';

export interface Received<T> {
  /** The client's file name (basename only). */
  filename: string;
  bytes: number;
  /** What the sink returned. */
  result: T;
}

/** Past a failure, at most this much more of a body is read and dropped before answering. */
export const DRAIN_LIMIT_BYTES = 64 * 2 ** 20;

/**
 * How slowly an upload may arrive: after `graceMs`, a body that has averaged fewer than
 * `bytesPerSecond` since it started is cut off (408 `request_timeout`, connection closed), so a
 * client dripping a byte a second cannot hold a connection and a staging file for ever, while a
 * large upload on a slow link takes as long as it needs.
 */
export interface MinUploadRate {
  bytesPerSecond: number;
  graceMs: number;
}

/** 16 KiB/s on average, judged from the first minute on. */
export const DEFAULT_MIN_UPLOAD_RATE: MinUploadRate = { bytesPerSecond: 16 * 1024, graceMs: 60_000 };

/**
 * Streams the `file` field to `sink`. Over `maxBytes` the sink's stream ends early and the upload
 * fails with 413 whatever the sink made of it; no `file` field → 400. The sink must clean up after
 * itself when it throws. Before a failure is reported the rest of the body is read and dropped
 * (up to DRAIN_LIMIT_BYTES), so the client reads the answer rather than a broken pipe.
 */
export function receiveFile<T>(
  req: Request,
  maxBytes: number,
  sink: (stream: Readable, filename: string) => Promise<T>,
  minRate: MinUploadRate = DEFAULT_MIN_UPLOAD_RATE,
): Promise<Received<T>> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      clearInterval(rateCheck);
      req.unpipe(bb);
      bb.destroy();
      void drain(req, DRAIN_LIMIT_BYTES).then(() => reject(error));
    };
    const started = Date.now();
    let received = 0;
    req.on('data', (chunk: Buffer) => (received += chunk.length));
    const rateCheck = setInterval(() => {
      const ms = Date.now() - started;
      if (req.readableEnded || ms < minRate.graceMs || received >= (minRate.bytesPerSecond * ms) / 1000) return;
      clearInterval(rateCheck);
      if (settled) return;
      settled = true;
      req.unpipe(bb);
      bb.destroy();
      // The answer goes out, then the connection is closed: the rest of a dripping body is not waited for.
      setTimeout(() => req.socket.destroy(), 1000).unref();
      reject(new ApiError('request_timeout', `the upload arrived too slowly: ${received} bytes in ${Math.round(ms / 1000)} s, under ${minRate.bytesPerSecond} bytes/s`));
    }, Math.min(minRate.graceMs, 5000));
    rateCheck.unref();
    req.once('close', () => clearInterval(rateCheck));
    let bb: busboy.Busboy;
    try {
      bb = busboy({ headers: req.headers, limits: { fileSize: maxBytes, files: 1 }, highWaterMark: 2 ** 20, fileHwm: 2 ** 20 });
    } catch (e) {
      return reject(new ApiError('bad_request', `expected a multipart/form-data body with a field "file": ${(e as Error).message}`));
    }
    let writing: Promise<Received<T>> | null = null;
    bb.on('file', (field, stream, info) => {
      if (field !== 'file' || writing) return void stream.resume();
      let bytes = 0;
      let truncated = false;
      // Counted on the side; paused first so the count does not start the flow before the sink reads.
      stream.pause();
      stream.on('data', (chunk: Buffer) => (bytes += chunk.length));
      stream.on('limit', () => (truncated = true));
      const filename = (info.filename ?? 'upload').split(/[\\/]/).pop() || 'upload';
      const tooLarge = () => new ApiError('payload_too_large', `the uploaded file is larger than ${maxBytes / 2 ** 20} MiB`);
      writing = sink(stream, filename).then(
        (result) => {
          if (truncated) throw tooLarge();
          return { filename, bytes, result };
        },
        (e: Error) => {
          throw truncated ? tooLarge() : e;
        },
      );
      writing.catch(fail);
    });
    bb.on('error', (e) => {
      const error = new ApiError('bad_request', `malformed multipart body: ${(e as Error).message}`);
      // A sink still writing finishes (and cleans up) before the answer.
      if (writing) writing.then(() => fail(error), () => {});
      else fail(error);
    });
    bb.on('close', () => {
      if (settled) return;
      if (!writing) return fail(new ApiError('bad_request', 'the multipart body has no field "file"'));
      writing.then((got) => {
        if (settled) return;
        settled = true;
        clearInterval(rateCheck);
        resolve(got);
      }, () => {});
    });
    req.pipe(bb);
  });
}

/** Reads and drops the rest of `req`, up to `limit` bytes; past that the connection is closed. */
export function drain(req: Request, limit: number): Promise<void> {
  return new Promise((done) => {
    if (req.readableEnded || req.destroyed) return done();
    let seen = 0;
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen <= limit) return;
      req.off('data', onData);
      req.socket.destroy();
      done();
    };
    req.on('data', onData);
    req.once('end', () => done());
    req.once('close', () => done());
    req.resume();
  });
}
