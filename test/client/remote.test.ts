// RemoteBackend against a real runtime API service (`runtime-client api` from the built CLI) on the
// real Docker engine: start, run through the handle's client, list, pause (fail fast), resume,
// attach from a second backend, stop, renew, and the errors (key, unknown ids, image, capacity).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RuntimeClient } from '../../client/runtime-client.js';
import { RuntimeError } from '../../client/errors.js';
import { getBackend } from '../../client/backends/registry.js';
import type { ProgressEvent } from '../../client/backends/backend.js';
import { RemoteBackend, RemoteRuntime } from '../../client/remote/index.js';
import { LABELS } from '../../control/driver.js';
import { prepareImages, requireEngine } from '../docker/engine.js';
import { startApiService, type ApiService } from '../helpers/api-service.js';
import { rejection } from '../helpers/rejection.js';
import { expectPausedClient, expectStreamsLines } from '../helpers/runtime-checks.js';

const IMAGE = 'rc-test/bookworm:1';
const env = { NO_CHANGE_TIMEOUT_SECONDS: '2' };
// Every session id this file uses, so that afterAll removes their containers whatever failed.
const sessions = new Set<string>();
const newSessionId = (what: string) => {
  const id = `rct-${what}-${randomBytes(3).toString('hex')}`;
  sessions.add(id);
  return id;
};
const NOWHERE = 'http://127.0.0.1:1';

function containersOf(runtimeId: string): string[] {
  return execFileSync('docker', ['ps', '-aq', '--filter', `label=${LABELS.runtimeId}=${runtimeId}`], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

describe('RemoteBackend options, checked before any call', () => {
  it('needs a url: options.url or env RUNTIME_API_URL', () => {
    const saved = process.env.RUNTIME_API_URL;
    delete process.env.RUNTIME_API_URL;
    try {
      expect(() => new RemoteBackend()).toThrow(new TypeError("the remote backend needs the runtime API's url: options.url or env RUNTIME_API_URL"));
    } finally {
      if (saved !== undefined) process.env.RUNTIME_API_URL = saved;
    }
    expect(() => new RemoteBackend({ url: 'ftp://x' })).toThrow(new TypeError('options.url must be an http: or https: URL, got "ftp://x"'));
    expect(() => new RemoteBackend({ url: NOWHERE, retries: -1 })).toThrow(new TypeError('options.retries must be a non-negative integer, got -1'));
  });

  it('is registered as `remote`, made from env RUNTIME_API_URL and RUNTIME_API_KEY', () => {
    process.env.RUNTIME_API_URL = 'http://127.0.0.1:9/base/';
    try {
      const backend = getBackend('remote');
      expect(backend).toBeInstanceOf(RemoteBackend);
      expect(backend.url).toBe('http://127.0.0.1:9/base');
      expect(getBackend('remote')).toBe(backend);
    } finally {
      delete process.env.RUNTIME_API_URL;
    }
  });

  it.each([
    [{ image: '' }, 'image must name an image the service\'s backend has, got ""'],
    [{ image: IMAGE, sessionId: 'no spaces' }, 'sessionId: must be 1-128 characters of A-Z a-z 0-9 _ . -, starting with a letter or digit, got "no spaces"'],
    [{ image: IMAGE, env: { SESSION_API_KEY: 'x' } }, 'env.SESSION_API_KEY is set by the runtime API and cannot be given'],
    [{ image: IMAGE, env: { A: 1 } }, 'env.A: expected string, received number, got 1'],
    [{ image: IMAGE, cpus: 0 }, 'cpus: too small: expected number to be >0, got 0'],
    [{ image: IMAGE, ttlSeconds: 1.5 }, 'ttlSeconds: expected int, received number, got 1.5'],
    [{ image: IMAGE, client: { retries: -1 } }, 'options.retries must be a non-negative integer, got -1'],
  ])('start(%j) is a TypeError naming the option, and sends nothing', async (options, message) => {
    const backend = new RemoteBackend({ url: NOWHERE, retries: 0 });
    // A call would fail with RuntimeError 'unavailable' (nothing listens there): a TypeError means none was made.
    await expect(backend.start(options as never)).rejects.toThrow(new TypeError(message));
    backend.close();
  });

  it('cannot keep a stopped runtime, and a service that is not there is unavailable', async () => {
    const backend = new RemoteBackend({ url: NOWHERE, retries: 0 });
    await expect(backend.stop('rt-000000000000000000000000', { remove: false })).rejects.toThrow(TypeError);
    const error = await rejection(backend.list());
    expect(error.code).toBe('unavailable');
    expect(error.message).toContain('refused the connection');
    backend.close();
  });
});

const hasEngine = requireEngine();

describe.runIf(hasEngine)('RemoteBackend on a real runtime API', () => {
  let service: ApiService;
  let backend: RemoteBackend;
  let second: RemoteBackend;

  beforeAll(async () => {
    prepareImages('bookworm');
    service = await startApiService();
    backend = new RemoteBackend({ url: service.url, apiKey: service.key! });
    second = new RemoteBackend({ url: service.url, apiKey: service.key! });
  }, 900_000);

  afterAll(async () => {
    backend?.close();
    second?.close();
    await service?.close(sessions);
  }, 120_000);

  describe('one runtime, from start to stop', () => {
    const sessionId = newSessionId('life');
    const events: ProgressEvent[] = [];
    let runtime: RemoteRuntime;

    it('starts: the handle reaches the runtime through the service with the runtime\'s own key', async () => {
      runtime = await backend.start({ image: IMAGE, sessionId, env: { ...env, GREETING: 'hello' }, ttlSeconds: 600, startupTimeoutMs: 40_000, onProgress: (e) => events.push(e) });
      expect(runtime).toMatchObject({ backend: 'remote', sessionId, state: 'running' });
      expect(runtime.id).toMatch(/^rt-[0-9a-f]{24}$/);
      expect(runtime.url).toBe(`${service.url}/r/${runtime.id}`);
      expect(runtime.apiKey).toMatch(/^[0-9a-f]{64}$/);
      expect(runtime.apiKey).not.toBe(service.key);
      expect(events.map((e) => e.phase)).toEqual(['request', 'wait', 'ready']);
      expect(runtime.info).toMatchObject({ backend: 'remote', id: runtime.id, runtimeId: runtime.id, image: IMAGE, state: 'running', podStatus: 'ready' });
      expect(Date.parse(runtime.info.expiresAt) - Date.now()).toBeGreaterThan(590_000);

      const result = await runtime.client.run('echo "$GREETING from $(hostname)"; cd /tmp; export KEPT=yes');
      expect(result.exitCode).toBe(0);
      expect(result.output).toMatch(/^hello from \S+/);
      // The url needs the runtime's key: the service's own key does not open it.
      const stranger = new RuntimeClient({ url: runtime.url, apiKey: service.key!, retries: 0 });
      expect((await rejection(stranger.run('true'))).code).toBe('unauthorized');
      await stranger.close();
    });

    it('is one runtime per session: start() with its session id returns it', async () => {
      const again = await second.start({ image: IMAGE, sessionId });
      expect(again.id).toBe(runtime.id);
      expect(again.apiKey).toBe(runtime.apiKey);
      await again.client.close();
    });

    it('streams output through the service\'s url (a WebSocket through its proxy)', async () => {
      await expectStreamsLines(runtime.client);
    });

    it('lists it, and info() finds it by runtime id and by session id', async () => {
      const listed = (await backend.list()).find((r) => r.id === runtime.id);
      expect(listed).toMatchObject({ sessionId, image: IMAGE, state: 'running', podStatus: 'ready', restartCount: 0, url: runtime.url });
      expect(listed!.cpus).toBeGreaterThan(0);
      expect(Date.parse(listed!.createdAt!)).toBeLessThanOrEqual(Date.now());
      expect((await backend.list('paused')).some((r) => r.id === runtime.id)).toBe(false);
      expect(await backend.info(runtime.id)).toMatchObject({ id: runtime.id, sessionId, state: 'running' });
      expect(await backend.info(sessionId)).toMatchObject({ id: runtime.id, sessionId, state: 'running' });
    });

    it('pauses: the handle\'s client fails fast with "paused", and the service says paused', async () => {
      await runtime.pause();
      expect(runtime.state).toBe('paused');
      const started = performance.now();
      const error = await rejection(runtime.client.run('echo never'));
      expect(performance.now() - started).toBeLessThan(50);
      expect(error.code).toBe('paused');
      await expectPausedClient(runtime.client);
      expect((await backend.info(runtime.id)).state).toBe('paused');
      // The url itself answers 503 at once while paused: nothing hangs.
      const raw = await fetch(`${runtime.url}/alive`, { headers: { 'x-session-api-key': runtime.apiKey } });
      expect(raw.status).toBe(503);
      await runtime.pause(); // pausing a paused runtime is not an error
    });

    it('attaches from a second backend by session id: paused, and its client fails fast too', async () => {
      const attached = await second.attach(sessionId);
      expect(attached).toMatchObject({ id: runtime.id, sessionId, state: 'paused', apiKey: runtime.apiKey, url: runtime.url });
      expect((await rejection(attached.client.run('true'))).code).toBe('paused');
      await attached.client.close();
    });

    it('resumes: the shell carries on where it was', async () => {
      await runtime.resume();
      expect(runtime.state).toBe('running');
      const result = await runtime.client.run('echo "$KEPT in $(pwd)"');
      expect(result.output.trim()).toBe('yes in /tmp');
    });

    it('attaches from a second backend by runtime id: the same shells', async () => {
      const attached = await second.attach(runtime.id);
      expect(attached).toMatchObject({ id: runtime.id, sessionId, state: 'running' });
      expect((await attached.client.run('echo $KEPT')).output.trim()).toBe('yes');
      await attached.client.close();
    });

    it('a pause made elsewhere (another client) turns the handle\'s next call into "paused" at once: the proxy says 503 `paused`, not retried', async () => {
      await second.pause(sessionId);
      const error = await rejection(runtime.client.run('echo never'));
      expect(error.code).toBe('paused');
      expect(runtime.state).toBe('paused');
      // What the call got: the proxy's own word, answered once (a 503 `unavailable` would have been retried).
      const cause = (error.data as { cause: RuntimeError }).cause;
      expect(cause.data).toMatchObject({ status: 503, body: { error: { code: 'paused' } } });
      expect(cause.message).not.toContain('retries exhausted');
      await second.resume(runtime.id);
      await runtime.resume();
      expect((await runtime.client.run('echo back')).output.trim()).toBe('back');
    }, 30_000);

    it('renews: the runtime expires later', async () => {
      const expiresAt = await backend.renew(runtime, 1200);
      expect(Date.parse(expiresAt) - Date.now()).toBeGreaterThan(1_190_000);
      expect((await backend.info(runtime.id)).expiresAt).toBe(expiresAt);
    });

    it('stops: the service removes its container, the handle is closed, twice is no error', async () => {
      expect(containersOf(runtime.id)).toHaveLength(1);
      await runtime.stop();
      expect(runtime.state).toBe('closed');
      expect(runtime.info.state).toBe('stopped');
      expect(containersOf(runtime.id)).toEqual([]);
      expect((await rejection(runtime.client.run('true'))).code).toBe('unavailable');
      expect((await rejection(runtime.pause())).code).toBe('unavailable');
      await runtime.stop();
      expect(await backend.info(runtime.id)).toMatchObject({ state: 'stopped', url: null });
      const error = await rejection(second.attach(sessionId));
      expect(error.code).toBe('not_found');
      expect(error.message).toContain('is stopped');
    });
  });

  it('a runtime stopped by someone else: the handle\'s next call says so', async () => {
    const runtime = await backend.start({ image: IMAGE, sessionId: newSessionId('gone'), env });
    await second.stop(runtime.sessionId);
    const error = await rejection(runtime.client.run('true'));
    expect(error.code).toBe('unavailable');
    expect(error.message).toContain('was stopped by the service');
    expect(runtime.state).toBe('closed');
    expect(containersOf(runtime.id)).toEqual([]);
    await runtime.stop(); // already gone: not an error
  }, 60_000);

  describe('errors', () => {
    it('a wrong API key is unauthorized, and creates nothing', async () => {
      const wrong = new RemoteBackend({ url: service.url, apiKey: 'not-the-key' });
      const sessionId = newSessionId('key');
      const error = await rejection(wrong.start({ image: IMAGE, sessionId }));
      expect(error.code).toBe('unauthorized');
      expect(error.message).toContain('API key');
      expect(error.message).not.toContain(service.key!);
      expect((await rejection(wrong.list())).code).toBe('unauthorized');
      wrong.close();
      const nokey = new RemoteBackend({ url: service.url, apiKey: undefined });
      const saved = process.env.RUNTIME_API_KEY;
      delete process.env.RUNTIME_API_KEY;
      expect((await rejection(nokey.list())).code).toBe('unauthorized');
      if (saved !== undefined) process.env.RUNTIME_API_KEY = saved;
      nokey.close();
      expect((await backend.list()).some((r) => r.sessionId === sessionId)).toBe(false);
    });

    it('an unknown runtime id or session id is not_found, for every call', async () => {
      for (const ref of ['rt-000000000000000000000000', 'no-such-session', 'not a session/at all']) {
        for (const call of [() => backend.info(ref), () => backend.attach(ref), () => backend.pause(ref), () => backend.resume(ref), () => backend.stop(ref), () => backend.renew(ref, 60)]) {
          const error = await rejection(call());
          expect(error.code, `${ref}`).toBe('not_found');
          expect(error.data).toMatchObject({ backend: 'remote', ref });
        }
      }
    });

    it('an image the engine does not have is bad_action image_not_found, and creates nothing', async () => {
      const sessionId = newSessionId('noimage');
      const error = await rejection(backend.start({ image: 'rc-test/no-such-image:1', sessionId }));
      expect(error.code).toBe('bad_action');
      expect(error.data).toMatchObject({ status: 400, code: 'image_not_found' });
      expect((await backend.list()).filter((r) => r.sessionId === sessionId && r.state !== 'stopped')).toEqual([]);
    });

    it('limits the service refuses are bad_action naming the field', async () => {
      const error = await rejection(backend.start({ image: IMAGE, sessionId: newSessionId('cpus'), cpus: 1000 }));
      expect(error.code).toBe('bad_action');
      expect(error.data).toMatchObject({ status: 400, code: 'bad_request' });
      expect(error.message).toContain('cpus');
    });
  });

  describe('at capacity', () => {
    let small: ApiService;
    let client: RemoteBackend;

    beforeAll(async () => {
      small = await startApiService({ args: ['--max-runtimes', '1'] });
      client = new RemoteBackend({ url: small.url, apiKey: small.key! });
    }, 60_000);

    afterAll(async () => {
      client?.close();
      await small?.close(sessions);
    }, 120_000);

    it('a start past --max-runtimes is "capacity" with Retry-After, and creates nothing', async () => {
      const first = await client.start({ image: IMAGE, sessionId: newSessionId('cap1'), env });
      const sessionId = newSessionId('cap2');
      const error = await rejection(client.start({ image: IMAGE, sessionId, env }));
      expect(error.code).toBe('capacity');
      expect(error.data).toMatchObject({ status: 429, code: 'too_many_runtimes' });
      expect((error.data as { retryAfterSeconds: unknown }).retryAfterSeconds).toEqual(expect.any(Number));
      expect((await client.list()).map((r) => r.id)).toEqual([first.id]);
      await first.stop();
    }, 60_000);
  });
});
