// The runtime API's one port: `/r/{runtime_id}/...` to the proxy (HTTP and upgrades), everything
// else to the express app. Refuses to listen beyond loopback without an API key.
import { ControlError } from '../errors.js';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import { LABELS, type Driver } from '../driver.js';
import type { Lifecycle } from '../lifecycle/api.js';
import { createApp } from './app.js';
import { Builds } from './builds.js';
import { ControlApiError } from './errors.js';
import { Metrics } from './metrics.js';
import { RuntimeProxy, proxyTarget, type ProxyOptions } from './proxy.js';

export interface ApiServerOptions {
  lifecycle: Lifecycle;
  driver: Driver;
  log: Logger;
  version: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 8000; 0 picks a free port. */
  port?: number;
  /** Where clients reach the service; default `http://<host>:<port>` as bound. */
  publicUrl?: string;
  /** The X-API-Key of every route but /health. Without one, only a loopback host is accepted. */
  apiKey?: string;
  /** A /build upload over this many MiB gets 413. Default 512. */
  maxBuildMb?: number;
  /** A JSON body over this many bytes gets 413. Default 1 MiB. */
  maxBodyBytes?: number;
  /** Runtimes the reaper paused or stopped, for /metrics (when the lifecycle counts them). */
  reaped?: () => number | undefined;
  /** A shorter route to a runtime than its direct URL, when the backend has one (ProxyOptions.route). */
  route?: ProxyOptions['route'];
}

export interface ApiServer {
  server: http.Server;
  /** `http://host:port` as bound. */
  url: string;
  publicUrl: string;
  port: number;
  metrics: Metrics;
  proxy: RuntimeProxy;
  /** Stops listening, ends proxied connections and builds; leaves the lifecycle to its owner. */
  close(): Promise<void>;
}

/** A start-up mistake of the service (no key on a public host): the command exits 2. */
export class ApiConfigError extends ControlError {
  constructor(message: string) {
    super('usage', message);
    this.name = 'ApiConfigError';
  }
}

/** True for 127.0.0.0/8, ::1 and localhost. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h.startsWith('::ffff:127.');
  return false;
}

export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const host = options.host ?? '127.0.0.1';
  if (!options.apiKey && !isLoopback(host)) {
    throw new ApiConfigError(`refusing to listen on ${host} without an API key: anyone who reaches it could start sandboxes. Set RUNTIME_API_KEY or --api-key-file, or listen on 127.0.0.1`);
  }
  const metrics = new Metrics(options.lifecycle, options.reaped);
  const proxy = new RuntimeProxy(options.lifecycle, metrics, options.log, { route: options.route });
  const builds = new Builds(options.driver, options.log);
  let publicUrl = options.publicUrl?.replace(/\/+$/, '') ?? '';
  const app = createApp({
    lifecycle: options.lifecycle,
    driver: options.driver,
    metrics,
    log: options.log,
    version: options.version,
    publicUrl: () => publicUrl,
    apiKey: options.apiKey,
    maxBodyBytes: options.maxBodyBytes,
    maxBuildMb: options.maxBuildMb ?? 512,
    builds,
  });

  const server = http.createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    const target = proxyTarget(req.url ?? '/');
    if (target) proxy.handle(req, res, target.runtimeId, target.path);
    else app(req, res);
  });
  server.on('upgrade', (req, socket, head) => {
    const target = proxyTarget(req.url ?? '/');
    if (target) return proxy.upgrade(req, socket, head, target.runtimeId, target.path);
    const body = JSON.stringify(new ControlApiError('not_found', `no WebSocket at ${req.url}: runtimes are at /r/{runtime_id}/...`).toBody());
    socket.end(`HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8000, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
  if (!publicUrl) {
    publicUrl = url;
    if (host === '0.0.0.0' || host === '::') options.log.warn({ publicUrl }, `runtime urls name ${host}, which clients elsewhere cannot reach: set --public-url to the address they use`);
  }
  // `service`: the value of the dev.runtime-client.service label on every sandbox it makes (docker ps --filter label=...).
  options.log.info({ url, publicUrl, backend: options.driver.name, auth: options.apiKey ? 'X-API-Key' : 'none (loopback only)', service: options.lifecycle.serviceLabels?.[LABELS.service] }, 'runtime API listening');

  return {
    server,
    url,
    publicUrl,
    port,
    metrics,
    proxy,
    close: async () => {
      proxy.close();
      builds.close();
      await new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      });
    },
  };
}
