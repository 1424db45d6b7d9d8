// The runtimes' URLs: `/r/{runtime_id}/...` forwarded to the runtime's server (record.directUrl),
// HTTP streamed both ways and WebSocket upgrades spliced, on the service's one port. A small
// forwarder of our own on node:http rather than http-proxy: http-proxy is unmaintained since
// 2020, buffers nothing we need it for, and its per-request work (event fan-out, header
// rewriting passes) is what the 0.3 ms budget cannot afford. Here: one keep-alive Agent per
// runtime, headers copied once, bodies piped.
//
// A paused runtime answers 503 `paused` at once (one starting 503 `unavailable`), a stopped or unknown one 404: never a hung
// connection. A sweep every second ends requests and sockets whose runtime left `running` while
// they were open (a paused container accepts TCP and never answers).
import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Lifecycle, RuntimeRecord } from '../lifecycle/api.js';
import { ControlApiError } from './errors.js';
import type { Metrics } from './metrics.js';
import type { Logger } from 'pino';

/** Headers that describe one hop, not the request: never forwarded (RFC 9110 7.6.1), plus the service's own key. */
const HOP_HEADERS = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'x-api-key', 'host']);

/** How often open requests are checked against their runtime's status, in ms. */
const SWEEP_INTERVAL_MS = 1000;
/** WebSocket traffic touches the runtime's idle clock at most this often per connection, in ms. */
const WS_TOUCH_INTERVAL_MS = 1000;

/** `/r/{runtime_id}` and the path after it, or null when `url` is not a proxy URL. */
export function proxyTarget(url: string): { runtimeId: string; path: string } | null {
  if (!url.startsWith('/r/')) return null;
  const end = url.length;
  let i = 3;
  while (i < end) {
    const c = url.charCodeAt(i);
    if (c === 0x2f || c === 0x3f) break; // / or ?
    i++;
  }
  const runtimeId = url.slice(3, i);
  let path = url.slice(i);
  if (path === '' || path.charCodeAt(0) === 0x3f) path = '/' + path;
  return { runtimeId, path };
}

interface Target {
  directUrl: string;
  agent: http.Agent;
  hostname: string;
  port: string;
  /** `host:port` for the Host header. */
  host: string;
  /** The direct URL's path, without a trailing slash ('' for the root). */
  base: string;
  /** Set once a shorter route (ProxyOptions.route) was asked for this target. */
  routeAsked?: boolean;
}

export interface ProxyOptions {
  /**
   * A shorter address of the same server than record.directUrl, when the backend has one (Docker
   * on this host: the container's bridge address, which skips the engine's port forwarder), or
   * null. Asked once per runtime and address, in the background: requests use directUrl until it
   * answers; a route that fails to connect is dropped for directUrl again.
   */
  route?: (record: RuntimeRecord) => Promise<string | null>;
}

interface Open {
  runtimeId: string;
  /** Ends it: an answer when none was sent yet, else the sockets close. */
  end: (status: RuntimeRecord['status'] | 'gone') => void;
}

export class RuntimeProxy {
  /** Per runtime: its keep-alive agent and its server's address, parsed once per directUrl. */
  private readonly targets = new Map<string, Target>();
  private readonly open = new Set<Open>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly lifecycle: Lifecycle,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly options: ProxyOptions = {},
  ) {
    this.sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  /** Forwards one HTTP request for `/r/{runtimeId}{path}`. */
  handle(req: http.IncomingMessage, res: http.ServerResponse, runtimeId: string, path: string): void {
    const record = this.usable(runtimeId);
    if (record instanceof ControlApiError) return this.refuse(res, record);
    this.lifecycle.touch(runtimeId);
    const target = this.targetOf(record);
    const upstream = http.request({
      agent: target.agent,
      hostname: target.hostname,
      port: target.port,
      method: req.method,
      path: target.base + path,
      headers: forwardHeaders(req.headers, target.host),
    });
    const entry: Open = {
      runtimeId,
      end: (status) => {
        this.open.delete(entry);
        upstream.destroy();
        if (!res.headersSent) this.refuse(res, refusal(runtimeId, status));
        else res.destroy();
      },
    };
    this.open.add(entry);

    upstream.on('response', (answer) => {
      this.metrics.countProxy(`${Math.floor((answer.statusCode ?? 500) / 100)}xx`);
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, backHeaders(answer.rawHeaders));
      // Bytes counted from Content-Length when the answer has one (no listener on the hot path).
      const length = Number(answer.headers['content-length']);
      if (length >= 0) this.metrics.proxyBytesOut += length;
      else answer.on('data', (chunk: Buffer) => (this.metrics.proxyBytesOut += chunk.length));
      answer.pipe(res);
      answer.once('end', () => this.open.delete(entry));
      answer.once('error', () => res.destroy());
    });
    upstream.on('error', (e) => {
      this.open.delete(entry);
      if (target.routeAsked && isConnectError(e)) this.dropRoute(runtimeId, target);
      if (res.headersSent || res.destroyed) return void res.destroy();
      this.metrics.countProxy('5xx');
      this.refuse(res, new ControlApiError('runtime_unreachable', `runtime ${runtimeId} did not answer: ${(e as Error).message}`));
    });
    // The client went away first: drop the upstream request too (its socket is not reused).
    res.once('close', () => {
      if (!res.writableFinished) {
        this.open.delete(entry);
        upstream.destroy();
      }
    });
    const length = Number(req.headers['content-length']);
    if (length >= 0) this.metrics.proxyBytesIn += length;
    else req.on('data', (chunk: Buffer) => (this.metrics.proxyBytesIn += chunk.length));
    req.pipe(upstream);
  }

  /** Splices a WebSocket (or any) upgrade for `/r/{runtimeId}{path}` onto the runtime's server. */
  upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, runtimeId: string, path: string): void {
    socket.on('error', () => socket.destroy());
    const record = this.usable(runtimeId);
    if (record instanceof ControlApiError) return writeRawError(socket, record);
    this.lifecycle.touch(runtimeId);
    const target = this.targetOf(record);
    const headers = forwardHeaders(req.headers, target.host);
    headers.connection = 'Upgrade';
    headers.upgrade = req.headers.upgrade ?? 'websocket';
    const upstream = http.request({ agent: false, hostname: target.hostname, port: target.port, method: req.method, path: target.base + path, headers });
    let upstreamSocket: Duplex | null = null;
    const entry: Open = {
      runtimeId,
      end: (status) => {
        this.open.delete(entry);
        upstream.destroy();
        upstreamSocket?.destroy();
        if (upstreamSocket) socket.destroy();
        else writeRawError(socket, refusal(runtimeId, status));
      },
    };
    this.open.add(entry);
    socket.once('close', () => {
      this.open.delete(entry);
      upstream.destroy();
      upstreamSocket?.destroy();
    });

    upstream.on('upgrade', (answer, theirs, theirHead) => {
      upstreamSocket = theirs;
      this.metrics.countProxy('ws');
      theirs.on('error', () => socket.destroy());
      theirs.once('close', () => socket.destroy());
      let lines = `HTTP/1.1 ${answer.statusCode} ${answer.statusMessage}\r\n`;
      for (let i = 0; i < answer.rawHeaders.length; i += 2) lines += `${answer.rawHeaders[i]}: ${answer.rawHeaders[i + 1]}\r\n`;
      socket.write(lines + '\r\n');
      if (theirHead.length) socket.write(theirHead);
      if (head.length) theirs.write(head);
      let touchedAt = Date.now();
      const activity = (counter: 'proxyBytesIn' | 'proxyBytesOut') => (chunk: Buffer) => {
        this.metrics[counter] += chunk.length;
        const now = Date.now();
        if (now - touchedAt >= WS_TOUCH_INTERVAL_MS) {
          touchedAt = now;
          this.lifecycle.touch(runtimeId);
        }
      };
      socket.on('data', activity('proxyBytesIn'));
      theirs.on('data', activity('proxyBytesOut'));
      socket.pipe(theirs);
      theirs.pipe(socket);
    });
    // The runtime refused the upgrade (401, 404...): its answer goes back as it is.
    upstream.on('response', (answer) => {
      this.metrics.countProxy(`${Math.floor((answer.statusCode ?? 500) / 100)}xx`);
      let lines = `HTTP/1.1 ${answer.statusCode} ${answer.statusMessage}\r\n`;
      for (let i = 0; i < answer.rawHeaders.length; i += 2) {
        if (!HOP_HEADERS.has(answer.rawHeaders[i].toLowerCase())) lines += `${answer.rawHeaders[i]}: ${answer.rawHeaders[i + 1]}\r\n`;
      }
      const chunks: Buffer[] = [];
      answer.on('data', (c: Buffer) => chunks.push(c));
      answer.on('end', () => {
        const body = Buffer.concat(chunks);
        socket.end(`${lines}content-length: ${body.length}\r\nconnection: close\r\n\r\n` + body.toString('latin1'), 'latin1');
      });
    });
    upstream.on('error', (e) => {
      this.open.delete(entry);
      if (!upstreamSocket) writeRawError(socket, new ControlApiError('runtime_unreachable', `runtime ${runtimeId} did not answer: ${e.message}`));
    });
    upstream.end();
  }

  /** Stops the sweep and closes every keep-alive socket to the runtimes. */
  close(): void {
    clearInterval(this.sweeper);
    for (const entry of [...this.open]) entry.end('gone');
    for (const { agent } of this.targets.values()) agent.destroy();
    this.targets.clear();
  }

  /** The record when requests may go to it, else the refusal: 404 unknown or stopped, 503 paused or starting. */
  private usable(runtimeId: string): RuntimeRecord | ControlApiError {
    const record = this.lifecycle.get(runtimeId);
    if (!record || record.status !== 'running' || !record.directUrl) {
      this.metrics.countProxy(!record || record.status === 'stopped' ? '4xx' : '5xx');
      return refusal(runtimeId, record ? (record.directUrl || record.status !== 'running' ? record.status : record.restartCount > 0 ? 'restarting' : 'starting') : 'gone');
    }
    return record;
  }

  private refuse(res: http.ServerResponse, error: ControlApiError): void {
    const body = JSON.stringify(error.toBody());
    res.writeHead(error.status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), ...(error.code === 'unavailable' || error.code === 'paused' ? { 'retry-after': '1' } : {}) });
    res.end(body);
  }

  /** Where requests for a runtime go now: the route when one is known, else its direct URL. */
  targetHost(runtimeId: string): string | undefined {
    return this.targets.get(runtimeId)?.host;
  }

  /** The runtime's target (a new one, with a new agent, when its server moved, e.g. after a restart). */
  private targetOf(record: RuntimeRecord): Target {
    const known = this.targets.get(record.runtimeId);
    if (known?.directUrl === record.directUrl) return known;
    known?.agent.destroy();
    const target = makeTarget(record.directUrl!, record.directUrl!);
    this.targets.set(record.runtimeId, target);
    if (this.options.route) {
      target.routeAsked = true;
      this.options.route(record).then(
        (url) => {
          if (!url || this.targets.get(record.runtimeId) !== target) return;
          const routed = makeTarget(record.directUrl!, url);
          routed.routeAsked = true;
          // The old agent is left to its requests in flight; its idle sockets close at the server's keep-alive timeout.
          this.targets.set(record.runtimeId, routed);
          this.log.debug({ runtimeId: record.runtimeId, route: routed.host }, 'proxy: a shorter route to the runtime');
        },
        (e) => this.log.debug({ runtimeId: record.runtimeId, err: (e as Error).message }, 'proxy: no shorter route; the direct URL it is'),
      );
    }
    return target;
  }

  /** The route failed to connect: back to the direct URL, not asked again for this address. */
  private dropRoute(runtimeId: string, target: Target): void {
    if (this.targets.get(runtimeId) !== target || target.host === new URL(target.directUrl).host) return;
    const direct = makeTarget(target.directUrl, target.directUrl);
    direct.routeAsked = true;
    this.targets.set(runtimeId, direct);
  }

  private sweep(): void {
    for (const entry of [...this.open]) {
      const status = this.lifecycle.get(entry.runtimeId)?.status ?? 'gone';
      if (status !== 'running') {
        this.log.debug({ runtimeId: entry.runtimeId, status }, 'proxy: runtime left running; its open request ends');
        entry.end(status);
      }
    }
    for (const [runtimeId, { agent }] of this.targets) {
      if (this.lifecycle.get(runtimeId)?.status !== 'running') {
        agent.destroy();
        this.targets.delete(runtimeId);
      }
    }
  }
}

function refusal(runtimeId: string, status: RuntimeRecord['status'] | 'gone' | 'starting' | 'restarting'): ControlApiError {
  switch (status) {
    case 'restarting':
      return new ControlApiError('unavailable', `runtime ${runtimeId} is coming back after its sandbox died (GET /runtime/${runtimeId} says how); try again shortly`);
    case 'paused':
      return new ControlApiError('paused', `runtime ${runtimeId} is paused; POST /resume to bring it back`);
    case 'starting':
    case 'running':
      return new ControlApiError('unavailable', `runtime ${runtimeId} is starting; try again shortly`);
    case 'stopped':
      return new ControlApiError('not_found', `runtime ${runtimeId} is stopped`);
    default:
      return new ControlApiError('not_found', `no runtime ${runtimeId}`);
  }
}

function makeTarget(directUrl: string, url: string): Target {
  const u = new URL(url);
  return {
    directUrl,
    agent: new http.Agent({ keepAlive: true, keepAliveMsecs: 30_000, scheduling: 'lifo', noDelay: true } as http.AgentOptions),
    hostname: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port,
    host: u.host,
    base: u.pathname === '/' ? '' : u.pathname.replace(/\/$/, ''),
  };
}

function isConnectError(e: Error): boolean {
  const code = (e as { code?: string }).code;
  return code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'ETIMEDOUT';
}

function forwardHeaders(headers: http.IncomingHttpHeaders, host: string): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = { host };
  for (const name in headers) {
    if (!HOP_HEADERS.has(name)) out[name] = headers[name];
  }
  return out;
}

function backHeaders(raw: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    if (!HOP_HEADERS.has(raw[i].toLowerCase())) out.push(raw[i], raw[i + 1]);
  }
  return out;
}

/** An error answer on a socket that asked for an upgrade (no ServerResponse there). */
function writeRawError(socket: Duplex, error: ControlApiError): void {
  if (socket.destroyed) return;
  const body = JSON.stringify(error.toBody());
  const reason = http.STATUS_CODES[error.status] ?? 'Error';
  socket.end(`HTTP/1.1 ${error.status} ${reason}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}
