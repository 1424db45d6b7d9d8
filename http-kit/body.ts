// Reading a request body whole, as text: a size limit checked on Content-Length and while reading,
// a deadline for the whole body (a body sent at 1 byte/s held its connection for minutes under
// express.json), UTF-8 only, and optionally a gzip, deflate or br body inflated on the way. Every
// refusal is an HttpKitError; after one, up to a bound more of the body is read and dropped, so
// the client reads the answer rather than a broken pipe.
import type { IncomingMessage } from 'node:http';
import type { Readable, Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { HttpKitError } from './errors.js';

export interface ReadBodyOptions {
  /** Bodies larger than this (after decompression) are refused with `payload_too_large`, in bytes. */
  limitBytes: number;
  /** The whole body must arrive within this many ms of the read starting; else `request_timeout` and the connection must close. */
  timeoutMs: number;
  /** Inflate gzip (x-gzip), deflate and br bodies. Default false: a body with any content-encoding but identity is refused (`bad_request`). */
  decompress?: boolean;
  /** Past a refusal, at most this many more bytes of the body are read and dropped before the answer. Default 16 MiB. */
  drainLimitBytes?: number;
}

const DEFAULT_DRAIN_LIMIT_BYTES = 16 * 2 ** 20;

/**
 * The body of `req` as UTF-8 text (a leading byte-order mark dropped; `''` for an empty body).
 * Rejects with an HttpKitError, whose `closeConnection` says whether the body was left unread.
 */
export function readBodyText(req: IncomingMessage, options: ReadBodyOptions): Promise<string> {
  const { limitBytes, timeoutMs, decompress = false, drainLimitBytes = DEFAULT_DRAIN_LIMIT_BYTES } = options;
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + timeoutMs;
    const tooLarge = () => new HttpKitError('payload_too_large', `the request body is larger than ${+(limitBytes / 2 ** 20).toFixed(2)} MiB`);
    const bad = (message: string) => new HttpKitError('bad_request', message);

    const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(req.headers['content-type'] ?? '')?.[1]?.toLowerCase();
    if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
      return refuse(bad(`the request body must be UTF-8 JSON (charset ${charset} given)`));
    }
    if (!decompress) {
      const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase().trim();
      if (encoding !== 'identity') return refuse(bad(`content-encoding ${JSON.stringify(encoding)} is not supported: send the JSON as it is`));
    }
    if (Number(req.headers['content-length']) > limitBytes) return refuse(tooLarge());
    const inflated = decompress ? decoded(req) : req;
    if (!inflated) return refuse(bad(`content-encoding ${JSON.stringify(req.headers['content-encoding'])} is not supported (use identity, gzip, deflate or br)`));
    const source: Readable = inflated;

    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const timer = setTimeout(() => {
      // The body is late: stop reading, answer, and close (draining a crawling body could take for ever).
      settle();
      reject(new HttpKitError('request_timeout', `the request body did not arrive within ${timeoutMs / 1000} s`, true));
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
    // The error listeners stay after settling: a late error of the request is then swallowed here.
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
    function abandon(error: HttpKitError): void {
      if (settled) return;
      settle();
      refuse(error);
    }
    function refuse(error: HttpKitError): void {
      drain(req, deadline, drainLimitBytes).then((whole) => reject(new HttpKitError(error.code, error.message, !whole)));
    }
  });
}

/** The body as sent, or a decompressing stream of it; null for an encoding we do not know. */
function decoded(req: IncomingMessage): Readable | null {
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

/**
 * Reads and drops the rest of `req` until `deadline` (ms since the epoch) or `limitBytes` more
 * bytes; resolves true if the whole body arrived (the connection can then be kept).
 */
export function drain(req: IncomingMessage, deadline: number, limitBytes: number): Promise<boolean> {
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
      if (seen > limitBytes) finish(false);
    };
    const onEnd = () => finish(req.complete);
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('close', onEnd);
    req.resume();
  });
}
