// Reading a JSON request body as the sandbox server does: @runtime-client/http-kit's reader (a
// size limit, a deadline for the whole body; no compressed bodies here) and its nesting check
// before JSON.parse, answered as ControlApiError.
import type { IncomingMessage } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { drain as drainBody, HttpKitError, parseJson, readBodyText } from '@runtime-client/http-kit';
import { ControlApiError } from './errors.js';

export interface JsonBodyOptions {
  /** Bodies larger than this get 413 `payload_too_large`, in bytes. */
  limitBytes: number;
  /** The whole body must arrive within this many ms; else 408 `request_timeout` and the connection closes. */
  timeoutMs: number;
}

/** Arrays and objects nested deeper than this are refused; real requests nest 2 or 3 levels. */
export const MAX_JSON_DEPTH = 32;
/** Past a refusal for size, at most this much more is read and dropped so the client reads the answer, not a broken pipe. */
const DRAIN_LIMIT_BYTES = 16 * 2 ** 20;

/** Express middleware: `req.body` is the parsed JSON, `{}` for an empty or absent body. */
export function jsonBody(options: JsonBodyOptions): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    readBodyText(req, { ...options, drainLimitBytes: DRAIN_LIMIT_BYTES }).then(
      (text) => {
        try {
          req.body = text.trim() === '' ? {} : parseJson(text, 'request body', MAX_JSON_DEPTH);
        } catch (e) {
          return next(e instanceof HttpKitError ? new ControlApiError(e.code, e.message) : e);
        }
        next();
      },
      (e: HttpKitError) => {
        if (e.closeConnection && !res.headersSent) res.setHeader('connection', 'close');
        next(new ControlApiError(e.code, e.message));
      },
    );
  };
}

/** Reads and drops the rest of `req` until `deadline` or 16 MiB; true if it all arrived. */
export function drain(req: IncomingMessage, deadline: number): Promise<boolean> {
  return drainBody(req, deadline, DRAIN_LIMIT_BYTES);
}
