// Reading a JSON request body: @runtime-client/http-kit's reader (a size limit, a deadline for
// the whole body, gzip/deflate/br inflated) and the nesting check of json.ts before anything is
// parsed. It replaces express.json, which had no deadline and parsed any depth.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { readBodyText, type HttpKitError } from '@runtime-client/http-kit';
import { ApiError } from '../errors.js';
import { parseJson } from './json.js';

export interface JsonBodyOptions {
  /** Bodies larger than this (after decompression) get 413 `payload_too_large`, in bytes. */
  limitBytes: number;
  /** The whole body must arrive within this many ms of the handler starting to read it; else 408 `request_timeout` and the connection is closed. */
  timeoutMs: number;
}

/** Past a refusal for size, at most this much more of the body is read and dropped, so the client reads the answer rather than a broken pipe. */
const DRAIN_LIMIT_BYTES = 64 * 2 ** 20;

/**
 * Express middleware: sets `req.body` to the parsed JSON (`{}` for an empty body, untouched when the
 * request has none). Any content type is read as JSON, as before; the charset must be UTF-8.
 */
export function jsonBody(options: JsonBodyOptions): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    if (!hasBody(req)) return next();
    readBodyText(req, { ...options, decompress: true, drainLimitBytes: DRAIN_LIMIT_BYTES }).then(
      (text) => {
        try {
          req.body = text === '' ? {} : parseJson(text, 'request body');
        } catch (e) {
          return next(e);
        }
        next();
      },
      (e: HttpKitError) => {
        if (e.closeConnection && !res.headersSent) res.setHeader('connection', 'close');
        next(new ApiError(e.code, e.message));
      },
    );
  };
}

/** As type-is says: a body is announced by Transfer-Encoding or a Content-Length. */
function hasBody(req: Request): boolean {
  return req.headers['transfer-encoding'] !== undefined || !Number.isNaN(parseInt(req.headers['content-length'] ?? '', 10));
}
