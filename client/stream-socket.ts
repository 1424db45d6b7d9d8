// The client's one WebSocket to GET /ws, shared by all its streams: opened on first use, opened
// again with backoff while any stream is unfinished, frames routed to streams by action id.
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { RuntimeError } from './errors.js';
import { codeForWireError, isTransient, StatusError, toRuntimeError } from './failures.js';
import { TransportError } from './http.js';
import { backoffDelay, withRetries, type RetryPolicy } from './retry.js';

/** A server frame as parsed JSON; each stream checks the fields it reads. */
export type RawFrame = { type?: unknown; id?: unknown } & Record<string, unknown>;

/** A stream as the socket sees it. */
export interface StreamSink {
  readonly id: string;
  /** The frame that (re)subscribes after the socket (re)opened. */
  resumeFrame(): Record<string, unknown>;
  onFrame(frame: RawFrame): void;
  /** The socket gave up (retries used up, unauthorized, client closed). */
  onFail(error: RuntimeError): void;
}

export class StreamSocket {
  readonly #url: string;
  readonly #headers: Record<string, string>;
  readonly #policy: RetryPolicy;
  readonly #signal: AbortSignal;
  readonly #sinks = new Map<string, StreamSink>();
  #ws: WebSocket | null = null;
  #tcp: Socket | null = null;
  #opening = false;
  /** Drops in a row with no frame received in between; past `retries`, the streams fail. */
  #fruitlessDrops = 0;
  #closed = false;

  /** @param signal aborted when the client closes */
  constructor(url: string, headers: Record<string, string>, policy: RetryPolicy, signal: AbortSignal) {
    this.#url = url;
    this.#headers = headers;
    this.#policy = policy;
    this.#signal = signal;
  }

  /** Follows a stream: sends its resume frame now, or once the socket is open. */
  add(sink: StreamSink): void {
    if (this.#closed) return sink.onFail(new RuntimeError('unavailable', 'the client was closed'));
    this.#sinks.set(sink.id, sink);
    this.#tcp?.ref();
    if (this.#ws?.readyState === WebSocket.OPEN) this.#send(sink.resumeFrame());
    else this.#open(0);
  }

  /** Stops routing frames to a stream (finished, failed or closed). */
  remove(id: string): void {
    this.#sinks.delete(id);
    // An idle socket must not keep the process alive.
    if (this.#sinks.size === 0) this.#tcp?.unref();
  }

  /** Closes the socket; unfinished streams fail with 'unavailable'. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#failAll(new RuntimeError('unavailable', 'the client was closed'));
    const ws = this.#ws;
    this.#ws = null;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    const force = setTimeout(() => ws.terminate(), 1000);
    ws.close(1000);
    await closed;
    clearTimeout(force);
  }

  #send(frame: Record<string, unknown>): void {
    this.#ws?.send(JSON.stringify(frame));
  }

  /** Opens the socket (retrying with backoff) after waiting `delayMs`, unless already opening. */
  #open(delayMs: number): void {
    if (this.#opening || this.#closed) return;
    this.#opening = true;
    const wait = delayMs > 0 ? new Promise((r) => setTimeout(r, delayMs)) : Promise.resolve();
    wait
      .then(() => withRetries(() => this.#connect(), this.#policy, { transient: isTransient, signal: this.#signal }))
      .then(
        (ws) => {
          this.#opening = false;
          if (this.#closed) return void ws.terminate();
          this.#install(ws);
          for (const sink of this.#sinks.values()) this.#send(sink.resumeFrame());
          if (this.#sinks.size === 0) this.#tcp?.unref();
        },
        (error) => {
          this.#opening = false;
          this.#failAll(toRuntimeError(error, 'GET /ws', this.#url));
        },
      );
  }

  /** One attempt: resolves with an open socket; rejects with a StatusError or TransportError. */
  #connect(): Promise<WebSocket> {
    if (this.#closed) return Promise.reject(new TransportError('ECLOSED', 'the client was closed'));
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.#url, { headers: this.#headers, perMessageDeflate: false });
      let tcp: Socket | null = null;
      ws.on('upgrade', (res) => (tcp = res.socket as Socket));
      ws.once('unexpected-response', (req, res) => {
        // Settled before terminate(), whose 'error' would otherwise report a mere disconnection.
        reject(new StatusError({ status: res.statusCode ?? 0, body: res.statusMessage ?? '' }));
        req.destroy();
        ws.terminate();
      });
      ws.once('error', (error: NodeJS.ErrnoException) => reject(new TransportError(error.code ?? 'ECONNRESET', error.message)));
      ws.once('open', () => {
        this.#tcp = tcp;
        resolve(ws);
      });
    });
  }

  #install(ws: WebSocket): void {
    this.#ws = ws;
    ws.on('error', () => {}); // 'close' follows and handles it
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      let frame: RawFrame;
      try {
        frame = JSON.parse(data.toString());
      } catch {
        return;
      }
      this.#fruitlessDrops = 0;
      if (typeof frame.id === 'string') this.#sinks.get(frame.id)?.onFrame(frame);
      else if (frame.type === 'error') this.#failAll(wireError(frame));
    });
    ws.on('close', () => {
      if (this.#ws !== ws) return;
      this.#ws = null;
      this.#tcp = null;
      if (this.#closed || this.#sinks.size === 0) return;
      if (++this.#fruitlessDrops > this.#policy.retries) {
        return this.#failAll(new RuntimeError('disconnected', `GET /ws: the socket dropped ${this.#fruitlessDrops} times in a row with nothing received`));
      }
      this.#open(this.#fruitlessDrops > 1 ? backoffDelay(this.#fruitlessDrops - 2, this.#policy) : 0);
    });
  }

  #failAll(error: RuntimeError): void {
    const sinks = [...this.#sinks.values()];
    this.#sinks.clear();
    for (const sink of sinks) sink.onFail(error);
  }
}

/** The RuntimeError for an `error` frame. */
export function wireError(frame: RawFrame): RuntimeError {
  const error = (frame.error ?? {}) as { code?: unknown; message?: unknown };
  const code = typeof error.code === 'string' ? error.code : 'internal';
  const message = typeof error.message === 'string' ? error.message : 'the server sent an error frame';
  return new RuntimeError(codeForWireError(code), `GET /ws: ${message}`, frame);
}
