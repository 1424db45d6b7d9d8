// Reading a JSON request body as the sandbox server does (server/http/body.ts): a size limit
// checked on Content-Length and while reading, a deadline for the whole body, and a nesting check
// before JSON.parse (a body of `[[[[...` costs time and memory per level). Control does not import
// the server package, so this is its own, smaller copy: no compressed bodies.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
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
    readText(req, options).then(
      (text) => {
        try {
          req.body = text.trim() === '' ? {} : parseJson(text);
          next();
        } catch (e) {
          next(e);
        }
      },
      ({ error, close }: { error: ControlApiError; close: boolean }) => {
        if (close && !res.headersSent) res.setHeader('connection', 'close');
        next(error);
      },
    );
  };
}

/** Parses `text`; 400 `bad_request` for invalid JSON or nesting past MAX_JSON_DEPTH. */
export function parseJson(text: string): unknown {
  const at = depthOverflowAt(text, MAX_JSON_DEPTH);
  if (at >= 0) throw new ControlApiError('bad_request', `the request body nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep (at character ${at})`);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ControlApiError('bad_request', `the request body is not valid JSON: ${(e as Error).message}`);
  }
}

/** The index of the bracket that first nests deeper than `maxDepth`, or -1; brackets in strings do not count. */
export function depthOverflowAt(text: string, maxDepth: number): number {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // Jump to the closing quote: an odd run of backslashes before a quote escapes it.
      for (;;) {
        i = text.indexOf('"', i + 1);
        if (i === -1) return -1;
        let slashes = 0;
        while (text.charCodeAt(i - 1 - slashes) === 0x5c) slashes++;
        if (slashes % 2 === 0) break;
      }
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) return i;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return -1;
}

function readText(req: Request, { limitBytes, timeoutMs }: JsonBodyOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + timeoutMs;
    const tooLarge = () => new ControlApiError('payload_too_large', `the request body is larger than ${+(limitBytes / 2 ** 20).toFixed(2)} MiB`);
    const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(req.headers['content-type'] ?? '')?.[1]?.toLowerCase();
    if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') return refuse(new ControlApiError('bad_request', `the request body must be UTF-8 JSON (charset ${charset} given)`));
    const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase().trim();
    if (encoding !== 'identity') return refuse(new ControlApiError('bad_request', `content-encoding ${JSON.stringify(encoding)} is not supported: send the JSON as it is`));
    if (Number(req.headers['content-length']) > limitBytes) return refuse(tooLarge());
    if (req.complete) return resolve('');

    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const timer = setTimeout(() => {
      settle();
      reject({ error: new ControlApiError('request_timeout', `the request body did not arrive within ${timeoutMs / 1000} s`), close: true });
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) return abandon(tooLarge());
      chunks.push(chunk);
    };
    const onEnd = () => {
      settle();
      let text = Buffer.concat(chunks, size).toString('utf8');
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      resolve(text);
    };
    const onClose = () => {
      if (!req.complete) abandon(new ControlApiError('bad_request', 'the client closed the connection before the body ended'));
    };
    const onError = (e: Error) => abandon(new ControlApiError('bad_request', `the request body could not be read: ${e.message}`));
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('close', onClose);
    req.once('error', onError);

    function settle(): void {
      settled = true;
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
      req.off('error', onError);
      req.pause();
    }
    function abandon(error: ControlApiError): void {
      if (settled) return;
      settle();
      refuse(error);
    }
    function refuse(error: ControlApiError): void {
      drain(req, deadline).then((whole) => reject({ error, close: !whole }));
    }
  });
}

/** Reads and drops the rest of `req` until `deadline` or DRAIN_LIMIT_BYTES; true if it all arrived. */
export function drain(req: Request, deadline: number): Promise<boolean> {
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
