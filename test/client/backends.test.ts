// The backend registry, and the RuntimeBackend contract run the same way on two backends: a
// local-process backend (test/client/process-backend.ts, always) and Docker (with an engine).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { DockerBackend } from '../../client/docker/backend.js';
import { getBackend, listBackends, registerBackend } from '../../client/backends/registry.js';
import type { ProgressEvent, RuntimeBackend, RuntimeHandle, StartOptions } from '../../client/backends/backend.js';
import { RuntimeError } from '../../client/errors.js';
import { prepareImages, removeLabelled, requireEngine } from '../docker/engine.js';
import { ProcessBackend } from './process-backend.js';
import { rejection } from '../helpers/rejection.js';


describe('the backend registry', () => {
  it('has docker from the start, made once', () => {
    expect(listBackends()[0]).toBe('docker');
    const backend = getBackend('docker');
    expect(backend).toBeInstanceOf(DockerBackend);
    expect(backend.name).toBe('docker');
    expect(getBackend('docker')).toBe(backend);
  });

  it('answers an unknown name with RuntimeError unknown_backend, naming the known ones', () => {
    let error: unknown;
    try {
      getBackend('no-such-backend');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RuntimeError);
    expect(error).toMatchObject({ code: 'unknown_backend', data: { name: 'no-such-backend', known: expect.arrayContaining(['docker']) } });
    expect((error as Error).message).toContain('known: docker');
  });

  it('registers another backend by name, and makes it on first use only', () => {
    let made = 0;
    registerBackend('test-registry', () => {
      made++;
      return new ProcessBackend('test-registry');
    });
    expect(listBackends()).toContain('test-registry');
    expect(made).toBe(0);
    const backend = getBackend('test-registry');
    expect(getBackend('test-registry')).toBe(backend);
    expect(made).toBe(1);
  });

  it.each([
    [['docker', () => new DockerBackend()], 'a backend named docker is already registered'],
    [['Docker2', () => new DockerBackend()], 'a backend name must be 1-32 characters of a-z 0-9 - starting with a letter, got "Docker2"'],
    [['x', 'not a function'], 'the factory of backend x must be a function'],
  ])('refuses %j', (args, message) => {
    expect(() => (registerBackend as (...a: unknown[]) => void)(...args)).toThrow(new TypeError(message));
  });

  it('refuses a factory whose backend has another name', () => {
    registerBackend('test-misnamed', () => new ProcessBackend('something-else'));
    expect(() => getBackend('test-misnamed')).toThrow(new TypeError('the factory of backend test-misnamed made a backend named "something-else"'));
  });
});

/** Start options for the contract: every backend's, plus what this backend needs. */
type Contract = { backend: () => RuntimeBackend; extra: Record<string, unknown>; phases: string[] };

function contract(name: string, setup: () => Contract) {
  describe(`the RuntimeBackend contract: ${name}`, () => {
    let c: Contract;
    let backend: RuntimeBackend;
    let handle: RuntimeHandle;
    const sessionId = `rcb-${randomBytes(3).toString('hex')}`;
    const events: ProgressEvent[] = [];

    beforeAll(async () => {
      c = setup();
      backend = c.backend();
      handle = await backend.start({ ...c.extra, sessionId, env: { GREETING: 'hello there' }, onProgress: (e) => events.push(e) } as StartOptions);
    }, 300_000);

    afterAll(async () => {
      await handle?.stop().catch(() => {});
    });

    it('starts a runtime whose handle holds a connected client, its key and its info', async () => {
      expect(handle.backend).toBe(backend.name);
      expect(handle.sessionId).toBe(sessionId);
      expect(handle.state).toBe('running');
      expect(handle.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(handle.apiKey).toMatch(/^[0-9a-f]{64}$/);
      expect(await handle.client.run('echo "$GREETING"')).toMatchObject({ exitCode: 0, output: 'hello there\n' });
      expect((await fetch(`${handle.url}/server_info`)).status).toBe(401);
      expect((await fetch(`${handle.url}/server_info`, { headers: { 'x-session-api-key': handle.apiKey } })).status).toBe(200);
      expect(handle.info).toMatchObject({ backend: backend.name, id: handle.id, sessionId, state: 'running', url: handle.url });
      expect(new Date(handle.info.createdAt!).getTime()).toBeGreaterThan(Date.now() - 600_000);
      expect([...new Set(events.map((e) => e.phase))]).toEqual(c.phases);
      expect(events.at(-1)!.phase).toBe('ready');
    });

    it('lists it, and tells its info by id, session id and handle alike', async () => {
      const listed = (await backend.list()).find((r) => r.id === handle.id);
      expect(listed).toMatchObject({ sessionId, state: 'running', url: handle.url });
      for (const ref of [handle.id, sessionId, handle]) expect(await backend.info(ref)).toEqual(listed);
    });

    it('attaches by session id: a second handle with the same key, on the same shells', async () => {
      await handle.client.run('cd /tmp && export MARK=first');
      const second = await backend.attach(sessionId);
      try {
        expect(second).toMatchObject({ id: handle.id, url: handle.url, apiKey: handle.apiKey, state: 'running' });
        expect((await second.client.run('echo "$PWD $MARK"')).output).toBe('/tmp first\n');
      } finally {
        await second.client.close();
      }
    });

    it('pauses and resumes by id, session id or handle; a paused handle fails fast', async () => {
      await backend.pause(handle.id);
      expect((await backend.info(sessionId)).state).toBe('paused');
      await backend.resume(sessionId);
      expect((await backend.info(handle.id)).state).toBe('running');

      await backend.pause(handle);
      expect(handle.state).toBe('paused');
      expect(handle.info.state).toBe('paused');
      const started = Date.now();
      for (const call of [() => handle.client.run('echo never'), () => handle.client.listFiles('/'), () => handle.client.sessions()]) {
        expect((await rejection(call())).code).toBe('paused');
      }
      expect(Date.now() - started).toBeLessThan(1000);
      await backend.resume(handle);
      expect(handle.state).toBe('running');
      expect((await handle.client.run('echo "$PWD $MARK"')).output).toBe('/tmp first\n');
    });

    it('stops it by session id; it is then not_found, and gone from the list', async () => {
      const other = await backend.start({ ...c.extra } as StartOptions);
      await backend.stop(other.sessionId);
      const error = await rejection(backend.info(other.id));
      expect(error.code).toBe('not_found');
      expect((await backend.list()).some((r) => r.id === other.id)).toBe(false);
      expect((await rejection(backend.stop(other.sessionId))).code).toBe('not_found');
      expect((await rejection(backend.attach(other.sessionId))).code).toBe('not_found');
      await other.client.close();
    }, 300_000);

    it('stops it through its handle: the client is closed, twice is fine', async () => {
      await handle.stop();
      expect(handle.state).toBe('closed');
      expect(handle.info.state).toBe('stopped');
      expect((await rejection(handle.client.run('echo gone'))).code).toBe('unavailable');
      await handle.stop();
      expect((await rejection(backend.info(handle.id))).code).toBe('not_found');
    });

    it('refuses a bad session id with a TypeError before starting anything', async () => {
      await expect(backend.start({ ...c.extra, sessionId: 'no spaces' } as StartOptions)).rejects.toThrow(TypeError);
    });
  });
}

contract('a local process', () => {
  registerBackend('test-process', () => new ProcessBackend('test-process'));
  return { backend: () => getBackend('test-process'), extra: {}, phases: ['spawn', 'wait', 'ready'] };
});

const hasEngine = requireEngine();
const BASE = 'rc-test/busybox:1';
const TEST_LABEL = 'test.runtime-client.backends';

describe.runIf(hasEngine)('docker', () => {
  beforeAll(() => {
    prepareImages('busybox');
  }, 900_000);

  afterAll(async () => {
    await removeLabelled(TEST_LABEL);
  });

  contract('docker (mount mode)', () => ({
    backend: () => getBackend('docker'),
    extra: { baseImage: BASE, mode: 'mount', labels: { [TEST_LABEL]: '1' } },
    phases: ['build', 'create', 'start', 'wait', 'ready'],
  }));
});
