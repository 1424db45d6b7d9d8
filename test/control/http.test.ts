// The runtime API's routes over the real lifecycle and Docker driver: every answer parsed with its
// protocol schema, auth, each refusal with its code (and nothing created), the build routes,
// /metrics as Prometheus text, /openapi.json against the routes express serves, and the flags of
// `runtime-client api`.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ApiHealth,
  BuildResponse,
  BuildStatusResponse,
  ImageExistsResponse,
  ListResponse,
  RegistryPrefixResponse,
  RenewResponse,
  RuntimeResponse,
  RuntimeStatusResponse,
  SessionResponse,
  StartResponse,
} from '@runtime-client/protocol';
import { ControlErrorBody } from '../../control/http/errors.js';
import { ROUTES } from '../../control/http/routes.js';
import { createApp } from '../../control/http/app.js';
import { Builds } from '../../control/http/builds.js';
import { Metrics } from '../../control/http/metrics.js';
import { ApiConfigError, startApiServer } from '../../control/http/server.js';
import { runApiService } from '../../control/http/service.js';
import { API_DEFAULTS, API_USAGE, apiCommand, apiFlags } from '../../cli/api.js';
import { UsageError } from '../../cli/errors.js';
import { prepareImages, requireEngine } from '../docker/engine.js';
import { IMAGE, KEY, startService, type Service } from './http-fixture.js';

const hasEngine = requireEngine();
const docker = (...args: string[]) => execFileSync('docker', args, { encoding: 'utf8' }).trim();
const containers = (label: string) => docker('ps', '-aq', '--filter', `label=${label}`).split('\n').filter(Boolean);

/** An error answer: its body parses as the error shape and carries `code`. */
function expectError(answer: { status: number; body: unknown }, status: number, code: string): { code: string; message: string; details?: any } {
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  const { error } = ControlErrorBody.parse(answer.body);
  expect(error.code).toBe(code);
  expect(error.message.length).toBeGreaterThan(5);
  return error;
}

describe.runIf(hasEngine)('runtime API routes', () => {
  let svc: Service;
  beforeAll(async () => {
    prepareImages('bookworm');
    svc = await startService({}, { publicUrl: 'https://rc.example.test/api/' });
  }, 600_000);
  afterAll(async () => svc?.close());

  it('GET /health answers without a key', async () => {
    const answer = await svc.api('/health', { key: null });
    expect(answer.status).toBe(200);
    const health = ApiHealth.parse(answer.body);
    expect(health).toMatchObject({ status: 'ok', backend: 'docker', version: 'test', runtimes: { running: 0, paused: 0 } });
  });

  it('every other route wants the X-API-Key: none or a wrong one is 401', async () => {
    for (const route of ROUTES.filter((r) => r.auth)) {
      const path = route.path.replace(':session_id', 's1').replace(':runtime_id', 'rt-000000000000000000000000');
      const method = route.method.toUpperCase();
      const body = method === 'POST' ? '{}' : undefined;
      expectError(await svc.api(path, { method, rawBody: body, key: null }), 401, 'unauthorized');
      expectError(await svc.api(path, { method, rawBody: body, key: KEY + 'x' }), 401, 'unauthorized');
    }
    expectError(await svc.api('/no-such-route', { key: null }), 401, 'unauthorized');
    expectError(await svc.api('/no-such-route'), 404, 'not_found');
  });

  it('a runtime through every route: start, sessions, runtime, list, renew, pause, resume, stop', async () => {
    const started = await svc.api('/start', { body: { image: IMAGE, session_id: 'routes-1', environment: { GREETING: 'hello' }, command: ['python', '-m', 'x', '--working-dir', '/tmp', '--plugins', 'a'], ttl_seconds: 300, some_field_openhands_sends: true } });
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    const start = StartResponse.parse(started.body);
    expect(start).toMatchObject({ session_id: 'routes-1', status: 'running', pod_status: 'ready', image: IMAGE, work_hosts: {} });
    expect(start.url).toBe(`https://rc.example.test/api/r/${start.runtime_id}`);
    expect(Date.parse(start.expires_at) - Date.now()).toBeGreaterThan(250_000);
    expect(Date.parse(start.expires_at) - Date.now()).toBeLessThanOrEqual(300_000);

    // The same session again: the same runtime.
    const again = StartResponse.parse((await svc.api('/start', { body: { image: IMAGE, session_id: 'routes-1' } })).body);
    expect(again.runtime_id).toBe(start.runtime_id);

    const session = SessionResponse.parse((await svc.api('/sessions/routes-1')).body);
    expect(session).toMatchObject({ runtime_id: start.runtime_id, status: 'running', url: start.url, session_api_key: start.session_api_key });
    const runtime = RuntimeResponse.parse((await svc.api(`/runtime/${start.runtime_id}`)).body);
    expect(runtime).toMatchObject({ runtime_id: start.runtime_id, session_id: 'routes-1', pod_status: 'ready', restart_count: 0, restart_reasons: [] });

    const listed = ListResponse.parse((await svc.api('/list')).body);
    expect(listed.runtimes.map((r) => r.runtime_id)).toContain(start.runtime_id);
    const entry = listed.runtimes.find((r) => r.runtime_id === start.runtime_id)!;
    expect(entry).toMatchObject({ image: IMAGE, cpus: 1, memory_mb: 512 });
    expect(ListResponse.parse((await svc.api('/list?status=paused')).body).runtimes).toEqual([]);
    expectError(await svc.api('/list?status=sleeping'), 400, 'bad_request');

    const renewed = RenewResponse.parse((await svc.api('/renew', { body: { runtime_id: start.runtime_id, ttl_seconds: 1200 } })).body);
    expect(Date.parse(renewed.expires_at) - Date.now()).toBeGreaterThan(1100_000);

    // The command's --working-dir is where the shells start; the environment is theirs.
    const run = await fetch(`${svc.url}/r/${start.runtime_id}/execute_action`, {
      method: 'POST',
      headers: { 'x-session-api-key': start.session_api_key, 'content-type': 'application/json' },
      body: JSON.stringify({ action: { action: 'run', args: { command: 'pwd; echo $GREETING' } } }),
    });
    expect((await run.json()).content).toBe('/tmp\nhello\n');

    expect(RuntimeStatusResponse.parse((await svc.api('/pause', { body: { runtime_id: start.runtime_id } })).body)).toEqual({ runtime_id: start.runtime_id, status: 'paused' });
    expect(ApiHealth.parse((await svc.api('/health')).body).runtimes).toEqual({ running: 0, paused: 1 });
    expect(RuntimeStatusResponse.parse((await svc.api('/resume', { body: { runtime_id: start.runtime_id } })).body).status).toBe('running');
    expect(RuntimeStatusResponse.parse((await svc.api('/stop', { body: { runtime_id: start.runtime_id } })).body).status).toBe('stopped');
    // Stopping a stopped runtime answers 200.
    const twice = await svc.api('/stop', { body: { runtime_id: start.runtime_id } });
    expect(twice.status).toBe(200);
    expect(RuntimeStatusResponse.parse(twice.body).status).toBe('stopped');
    expect(containers(svc.label)).toEqual([]);
  }, 120_000);

  describe('bad input gets its code and creates nothing', () => {
    const start = (body: unknown) => svc.api('/start', { body });
    it.each([
      ['malformed JSON', { rawBody: '{"image": "x", session_id', headers: { 'content-type': 'application/json' } }, undefined],
      ['JSON nested 1000 deep', { rawBody: '['.repeat(1000) + ']'.repeat(1000), headers: { 'content-type': 'application/json' } }, undefined],
      ['no image', { body: { session_id: 's-bad' } }, 'image'],
      ['a session id of the wrong type', { body: { image: IMAGE, session_id: 42 } }, 'session_id'],
      ['cpus as text', { body: { image: IMAGE, session_id: 's-bad', cpus: 'two' } }, 'cpus'],
      ['environment values not strings', { body: { image: IMAGE, session_id: 's-bad', environment: { A: 1 } } }, 'environment.A'],
      ['a session id with a slash', { body: { image: IMAGE, session_id: '../etc' } }, 'session_id'],
    ])('%s: 400 naming the field', async (_what, init, field) => {
      const error = expectError(await svc.api('/start', { method: 'POST', ...init }), 400, 'bad_request');
      if (field) expect(error.details.field).toBe(field);
      if (field) expect(error.message).toContain(field);
    });

    it('limits beyond --max-cpus or --max-memory-mb: 400 naming the field', async () => {
      expect(expectError(await start({ image: IMAGE, session_id: 's-big', cpus: 64 }), 400, 'bad_request').details.field).toBe('cpus');
      expect(expectError(await start({ image: IMAGE, session_id: 's-big', memory_mb: 1_000_000 }), 400, 'bad_request').details.field).toBe('memory_mb');
      expect(expectError(await start({ image: IMAGE, session_id: 's-big', ttl_seconds: 10_000_000 }), 400, 'bad_request').details.field).toBe('ttl_seconds');
    });

    it('an image that does not exist: 400 image_not_found', async () => {
      expectError(await start({ image: 'rc-test/no-such-image:404', session_id: 's-noimage' }), 400, 'image_not_found');
    });

    it('a body over 1 MiB: 413', async () => {
      const huge = JSON.stringify({ image: IMAGE, session_id: 's-huge', environment: { BIG: 'x'.repeat(2 ** 21) } });
      expectError(await svc.api('/start', { method: 'POST', rawBody: huge, headers: { 'content-type': 'application/json' } }), 413, 'payload_too_large');
      // The same without a Content-Length (chunked): refused while reading.
      const chunked = await fetch(svc.url + '/start', {
        method: 'POST',
        headers: { 'x-api-key': KEY, 'content-type': 'application/json' },
        body: new Blob([huge]).stream(),
        duplex: 'half',
      } as RequestInit);
      expectError({ status: chunked.status, body: await chunked.json() }, 413, 'payload_too_large');
    });

    it('unknown runtime and session ids: 404', async () => {
      const unknown = 'rt-0123456789abcdef01234567';
      expectError(await svc.api(`/runtime/${unknown}`), 404, 'not_found');
      expectError(await svc.api('/runtime/not-even-an-id'), 404, 'not_found');
      expectError(await svc.api('/sessions/nobody'), 404, 'not_found');
      for (const path of ['/pause', '/resume', '/stop']) expectError(await svc.api(path, { body: { runtime_id: unknown } }), 404, 'not_found');
      expectError(await svc.api('/renew', { body: { runtime_id: unknown, ttl_seconds: 60 } }), 404, 'not_found');
      expectError(await svc.api('/pause', { body: { runtime_id: 7 } }), 400, 'bad_request');
      expectError(await svc.api('/renew', { body: { runtime_id: unknown, ttl_seconds: -1 } }), 400, 'bad_request');
    });

    afterAll(() => {
      expect(svc.lifecycle.list().filter((r) => r.sessionId.startsWith('s-'))).toEqual([]);
      expect(containers(svc.label)).toEqual([]);
    });
  });

  it('GET /registry_prefix and /image_exists', async () => {
    expect(RegistryPrefixResponse.parse((await svc.api('/registry_prefix')).body).registry_prefix).toBe('runtime-client');
    const exists = ImageExistsResponse.parse((await svc.api(`/image_exists?image=${encodeURIComponent(IMAGE)}`)).body);
    expect(exists.exists).toBe(true);
    expect(exists.image!.image_size_bytes).toBeGreaterThan(1_000_000);
    expect(Number.isNaN(Date.parse(exists.image!.upload_time))).toBe(false);
    expect(ImageExistsResponse.parse((await svc.api('/image_exists?image=rc-test/no-such-image:404')).body)).toEqual({ exists: false });
    expect(expectError(await svc.api('/image_exists'), 400, 'bad_request').details.field).toBe('image');
  });

  it('GET /metrics is Prometheus text with runtimes, start latency, reaped and proxy counters', async () => {
    const answer = await fetch(svc.url + '/metrics', { headers: { 'x-api-key': KEY } });
    expect(answer.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const samples = parsePrometheus(await answer.text());
    expect(samples.get('runtime_api_runtimes{status="running"}')).toBe(0);
    expect(samples.get('runtime_api_runtimes{status="stopped"}')).toBeGreaterThanOrEqual(1);
    expect(samples.get('runtime_api_start_seconds_count')).toBeGreaterThanOrEqual(2);
    expect(samples.get('runtime_api_start_seconds_bucket{le="+Inf"}')).toBe(samples.get('runtime_api_start_seconds_count'));
    expect(samples.get('runtime_api_start_failures_total')).toBeGreaterThanOrEqual(4);
    expect(samples.get('runtime_api_proxy_requests_total{code="2xx"}')).toBeGreaterThanOrEqual(1);
    expect(samples.get('runtime_api_proxy_bytes_total{direction="out"}')).toBeGreaterThan(0);
  });

  it('GET /openapi.json has one path per route express serves, its schemas resolving', async () => {
    const doc = (await svc.api('/openapi.json')).body;
    expect(doc.openapi).toBe('3.1.0');
    const documented = Object.entries(doc.paths as Record<string, object>).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    const app = createApp({ lifecycle: svc.lifecycle, driver: svc.driver, metrics: new Metrics(svc.lifecycle), log: pino({ level: 'silent' }), version: 't', publicUrl: () => '', apiKey: 'k', maxBuildMb: 1, builds: new Builds(svc.driver, pino({ level: 'silent' })) });
    const served = (app.router.stack as Array<{ route?: { path: string; methods: Record<string, boolean> } }>)
      .filter((layer) => layer.route)
      .flatMap(({ route }) => Object.keys(route!.methods).map((m) => `${m.toUpperCase()} ${route!.path.replace(/:(\w+)/g, '{$1}')}`));
    expect(documented.sort()).toEqual(served.sort());
    expect(documented).toHaveLength(15);
    for (const ref of JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)) expect(doc.components.schemas).toHaveProperty(ref[1]);
    expect(doc.paths['/start'].post.requestBody.content['application/json'].schema.$ref).toBe('#/components/schemas/StartRequest');
    expect(doc.components.schemas.StartResponse.required).toContain('session_api_key');
    expect(doc.paths['/health'].get.security).toEqual([]);
  });
});

describe.runIf(hasEngine)('the reaper in /metrics', () => {
  let svc: Service;
  beforeAll(async () => {
    svc = await startService();
  });
  afterAll(async () => svc?.close());

  it('an idle runtime paused by the reaper counts in runtime_api_reaped_total (at any log level), and its url answers 503', async () => {
    const reapedNow = async () => parsePrometheus((await svc.api('/metrics')).body).get('runtime_api_reaped_total');
    expect(await reapedNow()).toBe(0);
    const start = StartResponse.parse((await svc.api('/start', { body: { image: IMAGE, session_id: 'idle-1', idle_timeout_seconds: 1 } })).body);
    const deadline = Date.now() + 15_000;
    while (RuntimeResponse.parse((await svc.api(`/runtime/${start.runtime_id}`)).body).status !== 'paused') {
      expect(Date.now()).toBeLessThan(deadline);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(await reapedNow()).toBe(1);
    const answer = await fetch(`${start.url}/alive`);
    expect(answer.status).toBe(503);
    expect(answer.headers.get('retry-after')).toBe('1');
  }, 30_000);
});

describe('a backend that does not answer', () => {
  it('/health says degraded; a route that needs the engine answers 503 backend_unavailable', async () => {
    const { DockerDriver } = await import('../../control/docker/index.js');
    const dead = new DockerDriver({ docker: { socketPath: '/nonexistent/docker.sock' }, pingTimeoutMs: 500, callTimeoutMs: 1000 });
    const lifecycle = { counts: () => ({ running: 0, paused: 0 }), list: () => [], get: () => undefined, backendUnavailable: () => null } as never;
    const api = await startApiServer({ lifecycle, driver: dead, log: pino({ level: 'silent' }), version: 't', port: 0, apiKey: KEY });
    try {
      const health = await fetch(`${api.url}/health`);
      expect(ApiHealth.parse(await health.json()).status).toBe('degraded');
      const exists = await fetch(`${api.url}/image_exists?image=x`, { headers: { 'x-api-key': KEY } });
      expectError({ status: exists.status, body: await exists.json() }, 503, 'backend_unavailable');
    } finally {
      await api.close();
      await dead.close();
    }
  });
});

describe.runIf(hasEngine)('capacity', () => {
  let svc: Service;
  beforeAll(async () => {
    svc = await startService({ maxRuntimes: 1 });
  });
  afterAll(async () => svc?.close());

  it('past --max-runtimes: 429 too_many_runtimes with Retry-After, and no second container', async () => {
    expect((await svc.api('/start', { body: { image: IMAGE, session_id: 'cap-1' } })).status).toBe(200);
    const refused = await svc.api('/start', { body: { image: IMAGE, session_id: 'cap-2' } });
    expectError(refused, 429, 'too_many_runtimes');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(containers(svc.label)).toHaveLength(1);
    expect(svc.lifecycle.bySession('cap-2')).toBeUndefined();
  }, 60_000);
});

describe.runIf(hasEngine)('POST /build and GET /build_status', () => {
  let svc: Service;
  let dir: string;
  const tags: string[] = [];
  beforeAll(async () => {
    svc = await startService({}, { maxBuildMb: 1 });
    dir = mkdtempSync(join(tmpdir(), 'rc-build-ctx-'));
  });
  afterAll(async () => {
    await svc?.close();
    for (const tag of tags) execFileSync('docker', ['rmi', '-f', tag], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  });

  /** base64 of a tar.gz of a context with this Dockerfile, as RemoteRuntimeBuilder sends it. */
  function context(dockerfile: string): string {
    const ctx = join(dir, String(Math.random()).slice(2));
    mkdirSync(ctx);
    writeFileSync(join(ctx, 'Dockerfile'), dockerfile);
    return execFileSync('tar', ['czf', '-', '-C', ctx, '.']).toString('base64');
  }
  function form(fields: Array<[string, string, string?]>): FormData {
    const f = new FormData();
    for (const [name, value, filename] of fields) {
      if (filename) f.append(name, new Blob([value]), filename);
      else f.append(name, value);
    }
    return f;
  }
  async function post(f: FormData) {
    const res = await fetch(svc.url + '/build', { method: 'POST', headers: { 'x-api-key': KEY }, body: f });
    return { status: res.status, headers: res.headers, body: await res.json() };
  }
  async function finished(buildId: string) {
    for (;;) {
      const status = BuildStatusResponse.parse((await svc.api(`/build_status?build_id=${buildId}`)).body);
      if (status.status !== 'PENDING' && status.status !== 'RUNNING') return status;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  it('builds a context into its tags; /image_exists then sees the image', async () => {
    const tag = `runtime-client/runtime:test-${Date.now()}`;
    tags.push(tag, tag + '-extra');
    const answer = await post(form([['context', context(`FROM ${IMAGE}\nRUN echo built > /built.txt\n`), 'context.tar.gz'], ['target_image', tag], ['tags', tag + '-extra']]));
    expect(answer.status).toBe(202);
    const { build_id } = BuildResponse.parse(answer.body);
    const done = await finished(build_id);
    expect(done).toEqual({ status: 'SUCCESS', image: tag });
    expect(ImageExistsResponse.parse((await svc.api(`/image_exists?image=${tag}`)).body).exists).toBe(true);
    expect(ImageExistsResponse.parse((await svc.api(`/image_exists?image=${tag}-extra`)).body).exists).toBe(true);
  }, 180_000);

  it('a failing build: FAILURE with the error', async () => {
    const tag = `runtime-client/runtime:fail-${Date.now()}`;
    tags.push(tag);
    const { body } = await post(form([['context', context(`FROM ${IMAGE}\nRUN exit 3\n`), 'context.tar.gz'], ['target_image', tag]]));
    const done = await finished(BuildResponse.parse(body).build_id);
    expect(done.status).toBe('FAILURE');
    expect(done.error).toBeTruthy();
  }, 180_000);

  it('a bad upload gets its code: no context, no target, not base64, over --max-build-mb, unknown build', async () => {
    expect(expectError(await post(form([['target_image', 'x/y:1']])), 400, 'bad_request').details.field).toBe('context');
    expect(expectError(await post(form([['context', context('FROM scratch\n')]])), 400, 'bad_request').details.field).toBe('target_image');
    expect(expectError(await post(form([['context', '!!not base64!!'], ['target_image', 'x/y:1']])), 400, 'bad_request').details.field).toBe('context');
    expect(expectError(await post(form([['context', context('FROM scratch\n')], ['target_image', 'Not A Ref']])), 400, 'bad_request').details.field).toBe('target_image');
    expectError(await post(form([['context', 'A'.repeat(2 * 2 ** 20), 'context.tar.gz'], ['target_image', 'x/y:1']])), 413, 'payload_too_large');
    const json = await svc.api('/build', { body: { context: 'x' } });
    expectError(json, 400, 'bad_request');
    expectError(await svc.api('/build_status?build_id=b-nothing'), 404, 'not_found');
    expectError(await svc.api('/build_status'), 400, 'bad_request');
  });
});

describe('listening', () => {
  it('without a key the service refuses any host but loopback, and says so', async () => {
    const refusal = await startApiServer({ lifecycle: null as never, driver: { name: 'docker' } as never, log: pino({ level: 'silent' }), version: 't', host: '0.0.0.0', port: 0 }).catch((e) => e);
    expect(refusal).toBeInstanceOf(ApiConfigError);
    expect(refusal.message).toMatch(/refusing to listen on 0\.0\.0\.0 without an API key/);
    // The command checks it before it opens anything: no state dir is made.
    const stateDir = join(tmpdir(), `rc-api-never-${process.pid}`);
    const flags = apiFlags({ host: '0.0.0.0', 'state-dir': stateDir }, {});
    await expect(runApiService(flags)).rejects.toBeInstanceOf(ApiConfigError);
    expect(() => execFileSync('test', ['-e', stateDir])).toThrow();
  });
});

describe('public url', () => {
  it('on a wildcard host without --public-url the service warns that runtime urls name it', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const lifecycle = { counts: () => ({ running: 0, paused: 0 }), list: () => [], get: () => undefined, backendUnavailable: () => null } as never;
    const api = await startApiServer({ lifecycle, driver: { name: 'docker' } as never, log, version: 't', host: '0.0.0.0', port: 0, apiKey: KEY });
    await api.close();
    expect(api.publicUrl).toBe(`http://0.0.0.0:${api.port}`);
    expect(lines.join('')).toMatch(/runtime urls name 0\.0\.0\.0, which clients elsewhere cannot reach: set --public-url/);
    expect(lines.join('')).not.toContain(KEY);
  });
});

describe('runtime-client api flags', () => {
  it('defaults, each documented with its unit in --help', () => {
    const flags = apiFlags({}, {});
    expect(flags).toMatchObject({ host: '127.0.0.1', port: 8000, backend: 'docker', defaultTtl: 3600, maxTtl: 86400, idleTimeout: 900, pausedTtl: 86400, maxRuntimes: 50, baseCpus: 1, baseMemoryMb: 2048, maxCpus: 8, maxMemoryMb: 16384, warm: {}, apiKey: undefined, inject: 'mount' });
    expect(flags.stateDir).toBe(API_DEFAULTS.stateDir);
    for (const flag of ['--host', '--port', '--backend', '--default-ttl', '--max-ttl', '--idle-timeout', '--paused-ttl', '--max-runtimes', '--base-cpus', '--base-memory-mb', '--max-cpus', '--max-memory-mb', '--warm', '--state-dir', '--public-url', '--api-key-file', '--inject']) {
      const line = API_USAGE.slice(API_USAGE.indexOf(`  ${flag} `));
      expect(line.slice(0, line.indexOf('\n  --', 3) >>> 0), flag).toMatch(/\(default/);
    }
    expect(API_USAGE).toMatch(/in seconds/);
    expect(API_USAGE).toMatch(/in MiB/);
  });

  it('values, the key from a file or RUNTIME_API_KEY', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rc-api-flags-'));
    writeFileSync(join(dir, 'key'), 'from-file\n');
    const flags = apiFlags({ port: '0', warm: ['img:1=2', 'other=1'], 'base-cpus': '0.5', 'public-url': 'https://x.test/api/', 'api-key-file': join(dir, 'key') }, { RUNTIME_API_KEY: 'from-env' });
    expect(flags).toMatchObject({ port: 0, warm: { 'img:1': 2, other: 1 }, baseCpus: 0.5, publicUrl: 'https://x.test/api', apiKey: 'from-file' });
    expect(apiFlags({ inject: 'image' }, {}).inject).toBe('image');
    expect(apiFlags({ inject: 'mount' }, {}).inject).toBe('mount');
    expect(apiFlags({}, { RUNTIME_API_KEY: 'from-env' }).apiKey).toBe('from-env');
    rmSync(dir, { recursive: true });
  });

  it.each([
    [{ port: 'x' }, /--port/],
    [{ 'default-ttl': '0' }, /--default-ttl must be a whole number/],
    [{ 'max-runtimes': '1.5' }, /--max-runtimes/],
    [{ 'base-cpus': '-1' }, /--base-cpus/],
    [{ warm: ['img'] }, /--warm takes IMAGE=N/],
    [{ 'default-ttl': '100', 'max-ttl': '50' }, /--default-ttl \(100\) is longer than --max-ttl \(50\)/],
    [{ 'base-cpus': '4', 'max-cpus': '2' }, /--base-cpus/],
    [{ warm: ['a=40', 'b=20'] }, /more than --max-runtimes/],
    [{ backend: 'nomad' }, /--backend "nomad"/],
    [{ 'public-url': 'ftp://x' }, /--public-url/],
    [{ 'api-key-file': '/nonexistent/key' }, /--api-key-file/],
    [{ inject: 'x' }, /--inject must be one of mount, image, got "x"/],
    [{ inject: '' }, /--inject must be one of mount, image, got ""/],
  ])('%j is a usage error', (values, message) => {
    expect(() => apiFlags(values as never, {})).toThrow(UsageError);
    expect(() => apiFlags(values as never, {})).toThrow(message);
  });

  it('a usage error exits 2 with the synopsis; --help exits 0', async () => {
    const written: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string) => (written.push(chunk), true)) as never;
    try {
      expect(await apiCommand(['--max-runtimes', 'many'])).toBe(2);
      expect(await apiCommand(['--bogus'])).toBe(2);
      expect(await apiCommand(['--inject', 'x'])).toBe(2);
    } finally {
      process.stderr.write = write;
    }
    expect(written.join('')).toMatch(/runtime-client api: --inject must be one of mount, image, got "x"/);
    expect(written.join('')).toMatch(/runtime-client api: --max-runtimes must be a whole number[^]*Usage: runtime-client api[^]*Try 'runtime-client api --help'/);
    expect(written.join('')).toMatch(/unknown flag --bogus/);
  });
});

/** Samples of Prometheus text format 0.0.4 by `name{labels}`; throws on any line that is not one. */
function parsePrometheus(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  const typed = new Map<string, string>();
  expect(text.endsWith('\n')).toBe(true);
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const comment = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line);
    if (comment) {
      if (comment[1] === 'TYPE') {
        expect(['counter', 'gauge', 'histogram', 'summary', 'untyped']).toContain(comment[3]);
        expect(typed.has(comment[2]), `TYPE twice for ${comment[2]}`).toBe(false);
        typed.set(comment[2], comment[3]);
      }
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*\})? (-?[0-9.eE+-]+|NaN|\+Inf|-Inf)$/.exec(line);
    expect(m, `not a Prometheus sample line: ${line}`).not.toBeNull();
    const family = m![1].replace(/_(bucket|sum|count)$/, '');
    expect(typed.has(m![1]) || typed.get(family) === 'histogram', `sample before its TYPE: ${line}`).toBe(true);
    samples.set(m![1] + (m![2] ?? ''), Number(m![3]));
  }
  return samples;
}
