// The runtime API service as the control tests run it: the real Docker driver and the real
// lifecycle core in a fresh state dir, the server on 127.0.0.1 port 0. close() removes every
// container this service made (found by its service label) and the state dir.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { LABELS } from '../../control/driver.js';
import { DockerDriver } from '../../control/docker/index.js';
import { openLifecycle, type RuntimeLifecycle } from '../../control/lifecycle/lifecycle.js';
import type { LifecycleOptions } from '../../control/lifecycle/api.js';
import { startApiServer, type ApiServer, type ApiServerOptions } from '../../control/http/server.js';
import { dockerBridgeRoute } from '../../control/http/docker-route.js';
import { ReapedCounter, lifecycleLogger } from '../../control/http/reaped.js';
import { removeLabelled } from '../docker/engine.js';

/** The base image of the control tests (test/images/build.sh bookworm). */
export const IMAGE = 'rc-test/bookworm:1';
export const KEY = 'test-key-' + Math.random().toString(36).slice(2);

export interface Service {
  url: string;
  server: ApiServer;
  lifecycle: RuntimeLifecycle;
  driver: DockerDriver;
  /** The label every container of this service carries (for `docker ps --filter label=...`). */
  label: string;
  /** A request with the key (unless `key` is given: null sends none); the answer's status, headers and JSON (or text). */
  api(path: string, init?: { method?: string; body?: unknown; rawBody?: string | Buffer; key?: string | null; headers?: Record<string, string> }): Promise<{ status: number; headers: Headers; body: any }>;
  close(): Promise<void>;
}

export async function startService(
  options: Partial<LifecycleOptions> = {},
  server: Partial<Omit<ApiServerOptions, 'lifecycle' | 'driver' | 'log' | 'version'>> = {},
): Promise<Service> {
  const stateDir = mkdtempSync(join(tmpdir(), 'rc-api-test-'));
  const driver = new DockerDriver();
  const log = pino({ level: process.env.RC_TEST_LOG ?? 'silent' });
  // As the command does: the reaper's events are counted for /metrics whatever the log level.
  const reaped = new ReapedCounter();
  const lifecycle = await openLifecycle(
    driver,
    { defaultTtl: 600, maxTtl: 3600, idleTimeout: 600, pausedTtl: 3600, maxRuntimes: 10, baseCpus: 1, baseMemoryMb: 512, maxCpus: 2, maxMemoryMb: 4096, warm: {}, stateDir, ...options },
    { logger: lifecycleLogger(process.env.RC_TEST_LOG ?? 'silent', reaped) },
  );
  const label = `${LABELS.service}=${lifecycle.serviceLabels[LABELS.service]}`;
  const api = await startApiServer({ lifecycle, driver, log, version: 'test', host: '127.0.0.1', port: 0, apiKey: KEY, route: dockerBridgeRoute(driver), reaped: () => reaped.total, ...server });
  return {
    url: api.url,
    server: api,
    lifecycle,
    driver,
    label,
    async api(path, init = {}) {
      const headers: Record<string, string> = { ...init.headers };
      if (init.key !== null) headers['x-api-key'] = init.key ?? server.apiKey ?? KEY;
      let body: string | Buffer | undefined = init.rawBody;
      if (init.body !== undefined) {
        body = JSON.stringify(init.body);
        headers['content-type'] = 'application/json';
      }
      const res = await fetch(api.url + path, { method: init.method ?? (body === undefined ? 'GET' : 'POST'), headers, body });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON: the text
      }
      return { status: res.status, headers: res.headers, body: parsed };
    },
    async close() {
      await api.close();
      await lifecycle.close();
      await removeLabelled(label);
      await driver.close();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
