// The HTTP transport: one request, JSON in and out, on a keep-alive agent the client owns (so
// close() can release its sockets), with a total deadline rather than an idle timeout.
import http from 'node:http';
import https from 'node:https';
import type { Writable } from 'node:stream';
import { RuntimeError } from './errors.js';

export interface HttpRequest {
  method: 'GET' | 'POST' | 'DELETE';
  /** Path below the base URL, e.g. "/execute_action". */
  path: string;
  /** Sent as JSON when given. */
  body?: unknown;
  /** Time allowed for the whole exchange, up to the last byte of the body, in ms; null for none. */
  timeoutMs: number | null;
}

/** A request whose body and answer are streams (file transfers): no deadline, an abort signal instead. */
export interface StreamRequest {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  /**
   * The body (chunked), when given: written by this function straight into the request, which it
   * must not end; a rejection aborts the request with its error.
   */
  body?: (request: Writable) => Promise<void>;
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  /** The parsed JSON body, or the raw text when it is not JSON. */
  body: unknown;
  /** The response's headers (e.g. Retry-After), lower-case names. */
  headers?: http.IncomingHttpHeaders;
}

/**
 * No HTTP response. `sysCode` is Node's (ECONNREFUSED, ECONNRESET...), or ETIMEOUT, ECLOSED or
 * EABORTED for ours. A RuntimeError like every error of this package; the calls that reach users
 * turn it into one with a sentence about the call (failures.ts).
 */
export class TransportError extends RuntimeError {
  constructor(
    readonly sysCode: string,
    message: string,
  ) {
    super(sysCode === 'ETIMEOUT' ? 'timeout' : sysCode === 'ECLOSED' || sysCode === 'ECONNREFUSED' ? 'unavailable' : 'disconnected', message, { code: sysCode });
    this.name = 'TransportError';
  }

  /** The deadline passed: not worth retrying within the same deadline. */
  get timedOut(): boolean {
    return this.sysCode === 'ETIMEOUT';
  }
}

export class HttpTransport {
  readonly #base: URL;
  readonly #agent: http.Agent;
  readonly #headers: Record<string, string>;
  readonly #inFlight = new Set<http.ClientRequest>();

  /** @param base an http: or https: URL; @param headers sent with every request. */
  constructor(base: URL, headers: Record<string, string>) {
    this.#base = new URL(base.href.endsWith('/') ? base.href : base.href + '/');
    const Agent = base.protocol === 'https:' ? https.Agent : http.Agent;
    this.#agent = new Agent({ keepAlive: true });
    this.#headers = headers;
  }

  request(req: HttpRequest): Promise<HttpResponse> {
    const { url, send } = this.#target(req.path);
    const payload = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body));
    return new Promise<HttpResponse>((resolve, reject) => {
      const request = send(url, {
        method: req.method,
        agent: this.#agent,
        headers: {
          accept: 'application/json',
          ...this.#headers,
          ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
        },
      });
      this.#inFlight.add(request);
      let ended = false;
      const fail = (error: NodeJS.ErrnoException) => {
        if (ended) return;
        ended = true;
        settle();
        reject(error instanceof TransportError ? error : new TransportError(error.code ?? 'ECONNRESET', error.message));
      };
      const timer =
        req.timeoutMs === null
          ? null
          : setTimeout(() => request.destroy(new TransportError('ETIMEOUT', `no complete answer within ${req.timeoutMs} ms`)), req.timeoutMs);
      const settle = () => {
        if (timer) clearTimeout(timer);
        this.#inFlight.delete(request);
      };
      request.on('error', fail);
      request.on('response', (res) => {
        const parts: Buffer[] = [];
        res.on('data', (part: Buffer) => parts.push(part));
        res.on('error', (error: NodeJS.ErrnoException) => fail(request.errored instanceof TransportError ? request.errored : error));
        res.on('close', () => {
          if (!res.complete) fail(request.errored ?? new TransportError('ECONNRESET', 'the connection closed before the whole answer arrived'));
        });
        res.on('end', () => {
          if (ended) return;
          ended = true;
          settle();
          resolve({ status: res.statusCode ?? 0, body: parse(Buffer.concat(parts).toString('utf8')), headers: res.headers });
        });
      });
      request.end(payload);
    });
  }

  /**
   * Sends `req` and resolves with the response as soon as its head arrives, whatever its status;
   * the caller reads the body. A body that fails to stream aborts the request with its error.
   */
  open(req: StreamRequest): Promise<http.IncomingMessage> {
    const { url, send } = this.#target(req.path);
    return new Promise((resolve, reject) => {
      const request = send(url, { method: req.method, agent: this.#agent, headers: { ...this.#headers, ...req.headers }, signal: req.signal });
      this.#inFlight.add(request);
      request.once('close', () => this.#inFlight.delete(request));
      request.once('error', (error: NodeJS.ErrnoException) =>
        reject(error instanceof TransportError ? error : new TransportError(error.name === 'AbortError' ? 'EABORTED' : (error.code ?? 'ECONNRESET'), error.message)),
      );
      request.once('response', resolve);
      if (!req.body) return void request.end();
      req.body(request).then(
        () => request.end(),
        (error: Error) => request.destroy(error),
      );
    });
  }

  /** The URL of `path` below the base, and the request function for its protocol. */
  #target(path: string) {
    const url = new URL(path.replace(/^\//, ''), this.#base);
    return { url, send: url.protocol === 'https:' ? https.request : http.request };
  }

  /** Fails every request in flight with ECLOSED and frees the agent's sockets. */
  close(): void {
    for (const request of this.#inFlight) request.destroy(new TransportError('ECLOSED', 'the client was closed'));
    this.#agent.destroy();
  }
}

/** The JSON in `text`, or the text itself when it is not JSON. */
export function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
