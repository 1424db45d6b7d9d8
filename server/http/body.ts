// Reading a JSON request body: a size limit, a deadline for the whole body, and the nesting check
// of json.ts before anything is parsed. It replaces express.json, which had no deadline (a body
// sent at 1 byte/s held its connection for minutes) and parsed any depth.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Readable, Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { ApiError, ServerError } from '../errors.js';
import { parseJson } from './json.js';

export interface JsonBodyOptions {
  /** Bodies larger than this (after decompression) get 413 `payload_too_large`, in bytes. */
  limitBytes: number;
  /** The whole body must arrive within this many ms of the handler starting to read it; else 408 `request_timeout` and the connection is closed. */
  timeoutMs: number;
}

/** Past a refusal for size, at most this much more of the body is read and dropped, so the client reads the answer rather than a broken pipe. */
const DRAIN_LIMIT_BYTES = 64 * 2 ** 20;

/** A failure to read the body, and whether the connection must close after the answer. */
class BodyError extends ServerError {
  constructor(
    readonly error: ApiError,
    readonly closeConnection: boolean,
  ) {
    super(error.code, error.message);
  }
}

/**
 * Express middleware: sets `req.body` to the parsed JSON (`{}` for an empty body, untouched when the
 * request has none). Any content type is read as JSON, as before; the charset must be UTF-8.
 */
export function jsonBody(options: JsonBodyOptions): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    if (!hasBody(req)) return next();
    readText(req, options).then(
      (text) => {
        try {
          req.body = text === '' ? {} : parseJson(text, 'request body');
        } catch (e) {
          return next(e);
        }
        next();
      },
      (e: BodyError) => {
        if (e.closeConnection && !res.headersSent) res.setHeader('connection', 'close');
        next(e.error);
      },
    );
  };
}

/** As type-is says: a body is announced by Transfer-Encoding or a Content-Length. */
function hasBody(req: Request): boolean {
  return req.headers['transfer-encoding'] !== undefined || !Number.isNaN(parseInt(req.headers['content-length'] ?? '', 10));
}

function readText(req: Request, { limitBytes, timeoutMs }: JsonBodyOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + timeoutMs;
    const limitMb = +(limitBytes / 2 ** 20).toFixed(2);
    const tooLarge = () => new ApiError('payload_too_large', `the request body is larger than ${limitMb} MiB`);
    const bad = (message: string) => new ApiError('bad_request', message);

    const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(req.headers['content-type'] ?? '')?.[1]?.toLowerCase();
    if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
      return refuse(bad(`the request body must be UTF-8 JSON (charset ${charset} given)`));
    }
    if (Number(req.headers['content-length']) > limitBytes) return refuse(tooLarge());
    const decompressing = decoded(req);
    if (!decompressing) return refuse(bad(`content-encoding ${JSON.stringify(req.headers['content-encoding'])} is not supported (use identity, gzip, deflate or br)`));
    const source: Readable = decompressing;

    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const timer = setTimeout(() => {
      // The body is late: stop reading, answer, and close (draining a crawling body could take for ever).
      settle();
      reject(new BodyError(new ApiError('request_timeout', `the request body did not arrive within ${timeoutMs / 1000} s`), true));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) return abandon(tooLarge());
      chunks.push(chunk);
    };
    const onEnd = () => {
      let text = Buffer.concat(chunks, size).toString('utf8');
      settle();
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // a byte-order mark, as body-parser allowed
      resolve(text);
    };
    const onError = (e: Error) => abandon(source === req ? bad(`the request body could not be read: ${e.message}`) : bad(`the request body could not be decompressed: ${e.message}`));
    const onClose = () => {
      if (!req.complete) abandon(bad('the client closed the connection before the body ended'));
    };
    source.on('data', onData);
    source.once('end', onEnd);
    source.once('error', onError);
    req.once('close', onClose);
    if (source !== req) req.once('error', onError);

    function settle(): void {
      settled = true;
      clearTimeout(timer);
      source.off('data', onData);
      source.off('end', onEnd);
      req.off('close', onClose);
      if (source !== req) {
        req.unpipe();
        source.destroy();
      }
      req.pause();
      chunks.length = 0;
    }
    /** Stops collecting; the rest of the body is dropped before the answer. */
    function abandon(error: ApiError): void {
      if (settled) return;
      settle();
      refuse(error);
    }
    function refuse(error: ApiError): void {
      drain(req, deadline).then((whole) => reject(new BodyError(error, !whole)));
    }
  });
}

/** The body as sent, or a decompressing stream of it; null for an encoding we do not know. */
function decoded(req: Request): Readable | null {
  const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase().trim();
  const inflaters: Record<string, (() => Transform) | null> = {
    identity: null,
    gzip: createGunzip,
    'x-gzip': createGunzip,
    deflate: createInflate,
    br: createBrotliDecompress,
  };
  if (!Object.hasOwn(inflaters, encoding)) return null;
  const inflate = inflaters[encoding];
  if (inflate === null) return req;
  return req.pipe(inflate());
}

/** Reads and drops the rest of `req` until `deadline` or DRAIN_LIMIT_BYTES; true if it all arrived. */
function drain(req: Request, deadline: number): Promise<boolean> {
  return new Promise((done) => {
    if (req.complete || req.destroyed) return done(req.complete);
    let seen = 0;
    const finish = (whole: boolean) => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onEnd);
      if (!whole) req.pause();
      done(whole);
    };
    const timer = setTimeout(() => finish(false), Math.max(0, deadline - Date.now()));
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > DRAIN_LIMIT_BYTES) finish(false);
    };
    const onEnd = () => finish(req.complete);
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('close', onEnd);
    req.resume();
  });
}
