// /r/{runtime_id}/...: the service's proxy to each runtime. Against a real runtime (Docker, the real
// lifecycle): HTTP, WebSocket streaming, 503 at once when paused, 404 when stopped or unknown, an
// open request ended when its runtime is paused under it. Against a real HTTP server as the sandbox
// (EchoDriver below, behind the real lifecycle): what is forwarded (headers, path, query), that
// bodies stream both ways without buffering, and 502 when the runtime's server is gone.
import http from 'node:http';
import { execFileSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServerFrame, StartResponse } from '@runtime-client/protocol';
import { DriverError, type Driver, type DriverEvent, type ImageInfo, type SandboxSpec, type SandboxState } from '../../control/driver.js';
import { ControlErrorBody } from '../../control/http/errors.js';
import { startApiServer, type ApiServer } from '../../control/http/server.js';
import { openLifecycle, type RuntimeLifecycle } from '../../control/lifecycle/lifecycle.js';
import { prepareImages, requireEngine } from '../docker/engine.js';
import { IMAGE, startService, type Service } from './http-fixture.js';

const hasEngine = requireEngine();

async function errorOf(res: Response): Promise<string> {
  return ControlErrorBody.parse(await res.json()).error.code;
}

/** Opens a WebSocket; resolves with it once open, or with the HTTP status it was refused with. */
function connect(url: string): Promise<WebSocket | { status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    ws.once('error', reject);
  });
}

describe.runIf(hasEngine)('the proxy to a real runtime', () => {
  let svc: Service;
  let rt: StartResponse;
  beforeAll(async () => {
    prepareImages('bookworm');
    svc = await startService();
    rt = StartResponse.parse((await svc.api('/start', { body: { image: IMAGE, session_id: 'proxy-1' } })).body);
  }, 600_000);
  afterAll(async () => svc?.close());

  const run = (command: string, key = rt.session_api_key) =>
    fetch(`${rt.url}/execute_action`, {
      method: 'POST',
      headers: { 'x-session-api-key': key, 'content-type': 'application/json' },
      body: JSON.stringify({ action: { action: 'run', args: { command } } }),
    });

  it('forwards HTTP, with X-Session-API-Key checked by the runtime', async () => {
    const alive = await fetch(`${rt.url}/alive`);
    expect(alive.status).toBe(200);
    expect((await alive.json()).status).toBe('ok');
    const answer = await run('echo hi');
    expect(answer.status).toBe(200);
    expect((await answer.json()).content).toBe('hi\n');
    const wrong = await run('echo hi', 'not-the-key');
    expect(wrong.status).toBe(401);
    expect((await wrong.json()).error.code).toBe('unauthorized');
  });

  it("reaches the container at its bridge address, not through the engine's port forwarder", async () => {
    for (let i = 0; i < 20 && !svc.server.proxy.targetHost(rt.runtime_id)?.endsWith(':60000'); i++) {
      await (await fetch(`${rt.url}/alive`)).arrayBuffer();
      await new Promise((r) => setTimeout(r, 50));
    }
    const sandboxId = svc.lifecycle.get(rt.runtime_id)!.sandboxId!;
    const ip = execFileSync('docker', ['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', sandboxId], { encoding: 'utf8' }).trim();
    expect(svc.server.proxy.targetHost(rt.runtime_id)).toBe(`${ip}:60000`);
    expect((await run('echo routed')).status).toBe(200);
  });

  it('each request resets the idle clock (lifecycle.touch)', async () => {
    const before = svc.lifecycle.get(rt.runtime_id)!.lastActivityAt;
    await new Promise((r) => setTimeout(r, 20));
    await (await fetch(`${rt.url}/alive`)).arrayBuffer();
    expect(svc.lifecycle.get(rt.runtime_id)!.lastActivityAt).toBeGreaterThan(before);
  });

  it('streams a WebSocket: output frames arrive as the command prints them', async () => {
    const ws = (await connect(`${rt.url.replace(/^http/, 'ws')}/ws`)) as WebSocket;
    expect(ws).toBeInstanceOf(WebSocket);
    const frames: Array<{ at: number; frame: ServerFrame }> = [];
    const done = new Promise<void>((resolve) =>
      ws.on('message', (data) => {
        const frame = ServerFrame.parse(JSON.parse(String(data)));
        frames.push({ at: Date.now(), frame });
        if (frame.type === 'observation') resolve();
      }),
    );
    ws.send(JSON.stringify({ type: 'auth', key: rt.session_api_key }));
    ws.send(JSON.stringify({ type: 'execute', id: 'ws-1', action: { action: 'run', args: { command: 'for i in 1 2 3; do echo line$i; sleep 0.4; done' } } }));
    await done;
    ws.close();
    const outputs = frames.filter((f) => f.frame.type === 'output');
    expect(outputs.map((f) => (f.frame as { data: string }).data).join('')).toContain('line1');
    const observationAt = frames.at(-1)!.at;
    // The first line came while the command still ran (it sleeps 0.8 s after it), not with the end.
    expect(observationAt - outputs[0].at).toBeGreaterThan(500);
    const observation = frames.at(-1)!.frame as { observation: { content: string } };
    expect(observation.observation.content).toBe('line1\nline2\nline3\n');
  });

  it('paused: 503 paused (with Retry-After) at once (HTTP and WebSocket), and a request open at the pause is ended', async () => {
    const slow = run('sleep 3; echo late');
    await new Promise((r) => setTimeout(r, 300));
    expect((await svc.api('/pause', { body: { runtime_id: rt.runtime_id } })).status).toBe(200);
    const began = Date.now();
    const answer = await fetch(`${rt.url}/alive`);
    expect(Date.now() - began).toBeLessThan(200);
    expect(answer.status).toBe(503);
    expect(answer.headers.get('retry-after')).toBe('1');
    expect(await errorOf(answer)).toBe('paused');
    const ws = await connect(`${rt.url.replace(/^http/, 'ws')}/ws`);
    expect(ws).toMatchObject({ status: 503 });
    expect(ControlErrorBody.parse(JSON.parse((ws as { body: string }).body)).error.code).toBe('paused');
    // The request sent before the pause does not hang on the frozen container: it ends within the sweep.
    const ended = await slow;
    expect(Date.now() - began).toBeLessThan(3000);
    expect(ended.status).toBe(503);
    expect((await svc.api('/resume', { body: { runtime_id: rt.runtime_id } })).status).toBe(200);
    // Back: the cut-off command still runs in the runtime's shell (it was only frozen), then the next one.
    expect((await run('echo back')).status).toBe(200);
  }, 60_000);

  it('stopped or unknown: 404 (HTTP and WebSocket), never a hung connection', async () => {
    const other = StartResponse.parse((await svc.api('/start', { body: { image: IMAGE, session_id: 'proxy-2' } })).body);
    const ws = (await connect(`${other.url.replace(/^http/, 'ws')}/ws`)) as WebSocket;
    const closed = new Promise((resolve) => ws.once('close', resolve));
    expect((await svc.api('/stop', { body: { runtime_id: other.runtime_id } })).status).toBe(200);
    await closed; // an open WebSocket to a stopped runtime is closed, not left hanging
    const answer = await fetch(`${other.url}/alive`);
    expect(answer.status).toBe(404);
    expect(await errorOf(answer)).toBe('not_found');
    expect(await connect(`${other.url.replace(/^http/, 'ws')}/ws`)).toMatchObject({ status: 404 });
    const unknown = await fetch(`${svc.url}/r/rt-0123456789abcdef01234567/alive`);
    expect(unknown.status).toBe(404);
    expect(await errorOf(unknown)).toBe('not_found');
    expect((await fetch(`${svc.url}/r/`)).status).toBe(404);
  }, 60_000);
});

/**
 * A Driver whose sandboxes are plain HTTP servers in this process: /alive answers 200, /echo
 * answers with what it received, /stream streams its answer in two chunks a release apart, and
 * /duplex echoes each body chunk back as it comes. Pause and resume only change the state (the
 * lifecycle and the proxy act on the record).
 */
class EchoDriver implements Driver {
  readonly name = 'echo';
  readonly servers = new Map<string, { server: http.Server; labels: Record<string, string>; status: SandboxState['status'] }>();
  release: () => void = () => {};
  private n = 0;

  async create(spec: SandboxSpec): Promise<SandboxState> {
    if (spec.image !== 'echo') throw new DriverError('image_not_found', `no image ${spec.image}`);
    const server = http.createServer((req, res) => {
      if (req.url === '/alive') return void res.end('{"status":"ok"}');
      if (req.url!.startsWith('/stream')) {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('first;');
        this.release = () => res.end('second');
        return;
      }
      if (req.url === '/duplex') {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        req.on('data', (c) => res.write(c));
        req.on('end', () => res.end());
        return;
      }
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString() })));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const id = `echo-${++this.n}`;
    this.servers.set(id, { server, labels: spec.labels, status: 'running' });
    return (await this.inspect(id))!;
  }
  async pause(id: string) {
    this.servers.get(id)!.status = 'paused';
  }
  async resume(id: string) {
    this.servers.get(id)!.status = 'running';
  }
  async remove(id: string) {
    const s = this.servers.get(id);
    this.servers.delete(id);
    s?.server.closeAllConnections();
    s?.server.close();
  }
  async inspect(id: string): Promise<SandboxState | null> {
    const s = this.servers.get(id);
    if (!s) return null;
    const url = s.server.listening ? `http://127.0.0.1:${(s.server.address() as AddressInfo).port}` : null;
    return { id, labels: s.labels, status: s.status, restartCount: 0, url };
  }
  async list(labels: Record<string, string>) {
    const all = await Promise.all([...this.servers.keys()].map((id) => this.inspect(id)));
    return all.filter((s): s is SandboxState => !!s && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  }
  watch(_labels: Record<string, string>, _onEvent: (event: DriverEvent) => void) {
    return () => {};
  }
  async image(image: string): Promise<ImageInfo> {
    return { exists: image === 'echo' };
  }
  async runtimeClasses() {
    return [];
  }
  async build(): Promise<string> {
    throw new DriverError('engine', 'the echo driver does not build');
  }
  async ping() {}
  async close() {
    for (const id of [...this.servers.keys()]) await this.remove(id);
  }
}

describe('the proxy to a plain HTTP server', () => {
  let driver: EchoDriver;
  let lifecycle: RuntimeLifecycle;
  let api: ApiServer;
  let stateDir: string;
  let url: string;
  let runtimeId: string;
  const KEY = 'service-key-must-not-reach-runtimes';
  beforeAll(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'rc-proxy-test-'));
    driver = new EchoDriver();
    const log = pino({ level: 'silent' });
    lifecycle = await openLifecycle(driver, { defaultTtl: 600, maxTtl: 3600, idleTimeout: 600, pausedTtl: 3600, maxRuntimes: 5, baseCpus: 1, baseMemoryMb: 512, maxCpus: 2, maxMemoryMb: 4096, warm: {}, stateDir }, { logger: log });
    api = await startApiServer({ lifecycle, driver, log, version: 't', port: 0, apiKey: KEY });
    const res = await fetch(`${api.url}/start`, { method: 'POST', headers: { 'x-api-key': KEY, 'content-type': 'application/json' }, body: JSON.stringify({ image: 'echo', session_id: 'echo-1' }) });
    const start = StartResponse.parse(await res.json());
    url = start.url;
    runtimeId = start.runtime_id;
  });
  afterAll(async () => {
    await api?.close();
    await lifecycle?.close();
    await driver?.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('forwards method, path, query, body and headers; never the service key; not hop-by-hop headers', async () => {
    const res = await fetch(`${url}/some/path?a=1&b=two`, {
      method: 'PUT',
      headers: { 'x-api-key': KEY, 'x-session-api-key': 'sess', 'x-custom': 'yes', 'content-type': 'text/plain', 'proxy-authorization': 'Basic x' },
      body: 'payload',
    });
    expect(res.status).toBe(200);
    const seen = await res.json();
    expect(seen).toMatchObject({ method: 'PUT', url: '/some/path?a=1&b=two', body: 'payload' });
    expect(seen.headers).toMatchObject({ 'x-session-api-key': 'sess', 'x-custom': 'yes' });
    expect(seen.headers['x-api-key']).toBeUndefined();
    expect(seen.headers['proxy-authorization']).toBeUndefined();
    const root = await (await fetch(`${url}?q=1`)).json();
    expect(root.url).toBe('/?q=1');
  });

  it('streams the answer: the first chunk arrives before the runtime ends it', async () => {
    const res = await fetch(`${url}/stream`);
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(Buffer.from(first.value!).toString()).toBe('first;');
    driver.release();
    let rest = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      rest += Buffer.from(value).toString();
    }
    expect(rest).toBe('second');
  });

  it('streams the request body: a chunk reaches the runtime (and comes back) before the body ends', async () => {
    const target = new URL(`${url}/duplex`);
    const req = http.request({ host: target.hostname, port: target.port, path: target.pathname, method: 'POST', headers: { 'content-type': 'application/octet-stream' } });
    const answer = new Promise<http.IncomingMessage>((resolve) => req.once('response', resolve));
    req.write('ping-1');
    const res = await answer;
    const firstBack = await new Promise<string>((resolve) => res.once('data', (c) => resolve(String(c))));
    expect(firstBack).toBe('ping-1');
    req.end('ping-2');
    let rest = '';
    for await (const c of res) rest += c;
    expect(rest).toBe('ping-2');
  });

  it('counts the traffic in /metrics', async () => {
    const text = await (await fetch(`${api.url}/metrics`, { headers: { 'x-api-key': KEY } })).text();
    expect(Number(/runtime_api_proxy_requests_total\{code="2xx"\} (\d+)/.exec(text)![1])).toBeGreaterThanOrEqual(4);
    expect(Number(/runtime_api_proxy_bytes_total\{direction="in"\} (\d+)/.exec(text)![1])).toBeGreaterThanOrEqual('payloadping-1ping-2'.length);
  });

  it("502 runtime_unreachable when the runtime's server is gone", async () => {
    const sandboxId = lifecycle.get(runtimeId)!.sandboxId!;
    const { server } = driver.servers.get(sandboxId)!;
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    const res = await fetch(`${url}/anything`);
    expect(res.status).toBe(502);
    expect(await errorOf(res)).toBe('runtime_unreachable');
  });
});
