// The control plane without its engine, tested without stopping the real one (others use it): the
// service is pointed at a unix socket path where nothing listens yet, and the test opens (and
// closes) a forwarder from that path to /var/run/docker.sock. `runtime-client api` starts and
// serves without the engine (/health degraded, /start 503 backend_unavailable at once, /list from
// its database); once the engine answers it reconciles (leftovers removed, gone sandboxes stopped)
// and works without a restart; an engine that goes away while it runs gets the same answers, and
// its event stream is followed again when it is back.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { DockerDriver } from '../../control/docker/index.js';
import { LABELS } from '../../control/driver.js';
import { LifecycleError } from '../../control/lifecycle/api.js';
import { openLifecycle, type RuntimeLifecycle } from '../../control/lifecycle/lifecycle.js';
import { prepareImages, removeLabelled, requireEngine } from '../docker/engine.js';
import { startApiService, type ApiService } from '../helpers/api-service.js';
import { BASE_OPTIONS, run, until } from './lifecycle-fixture.js';

const hasEngine = requireEngine();
const IMAGE = 'rc-test/bookworm:1';
const ENGINE_SOCKET = '/var/run/docker.sock';

/** A unix socket at `path` whose connections are piped to the real engine's; close() ends them all and removes the socket. */
class EngineForwarder {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();

  private constructor(readonly path: string) {
    this.server = net.createServer((client) => {
      const engine = net.connect(ENGINE_SOCKET);
      for (const s of [client, engine]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          engine.destroy();
        });
      }
      client.pipe(engine);
      engine.pipe(client);
    });
  }

  static async open(path: string): Promise<EngineForwarder> {
    const f = new EngineForwarder(path);
    await new Promise<void>((resolve, reject) => f.server.once('error', reject).listen(path, resolve));
    return f;
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}

let root: string;
const forwarders = new Set<EngineForwarder>();
const cleanUps: (() => Promise<void>)[] = [];

beforeAll(() => {
  if (!hasEngine) return;
  prepareImages('bookworm');
  root = mkdtempSync(join(tmpdir(), 'rc-engine-down-'));
}, 600_000);

afterEach(async () => {
  for (const f of forwarders) await f.close();
  forwarders.clear();
  for (const c of cleanUps.splice(0)) await c();
});

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

async function forward(path: string): Promise<EngineForwarder> {
  const f = await EngineForwarder.open(path);
  forwarders.add(f);
  return f;
}

async function goAway(f: EngineForwarder): Promise<void> {
  forwarders.delete(f);
  await f.close();
}

const docker = (...args: string[]) => execFileSync('docker', args, { encoding: 'utf8' }).trim();

describe.skipIf(!hasEngine)('runtime-client api without its engine', () => {
  let service: ApiService;
  const sessions = new Set<string>();

  afterAll(async () => {
    await service?.close(sessions);
  }, 60_000);

  it('starts and serves: /health degraded, /start 503 backend_unavailable, /list from its database; once the engine answers, /start works', async () => {
    const path = join(root, `engine-${randomBytes(4).toString('hex')}.sock`);
    const saved = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = `unix://${path}`;
    try {
      service = await startApiService();
    } finally {
      if (saved === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = saved;
    }
    const api = async (route: string, body?: unknown) => {
      const res = await fetch(`${service.url}${route}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { 'x-api-key': service.key!, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: res.status, body: (await res.json()) as any };
    };
    const health = await api('/health');
    expect(health).toMatchObject({ status: 200, body: { status: 'degraded', backend: 'docker', backend_error: expect.stringMatching(/^docker: /) } });
    const session = `rct-down-${randomBytes(3).toString('hex')}`;
    sessions.add(session);
    const refused = await api('/start', { image: IMAGE, session_id: session });
    expect(refused).toMatchObject({ status: 503, body: { error: { code: 'backend_unavailable' } } });
    expect(await api('/list')).toEqual({ status: 200, body: { runtimes: [] } });
    expect(await api(`/sessions/${session}`)).toMatchObject({ status: 404 });
    expect(service.logs.some((l) => l.msg?.toString().startsWith('the backend does not answer'))).toBe(true);

    await forward(path);
    await until(async () => (await api('/health')).body.status === 'ok', 30_000, '/health ok once the engine answers');
    const started = await api('/start', { image: IMAGE, session_id: session });
    expect(started).toMatchObject({ status: 200, body: { pod_status: 'ready' } });
    expect(await run(started.body.url, started.body.session_api_key, 'echo through')).toBe('through');
    expect(service.logs.some((l) => l.msg === 'the backend answers again: reconciled')).toBe(true);
  }, 120_000);
});

describe.skipIf(!hasEngine)('the lifecycle without its engine', () => {
  it('an engine that accepts and never answers: the lifecycle opens after the ping\'s timeout, not a call\'s, and refuses starts at once', async () => {
    const path = join(root, `hung-${randomBytes(4).toString('hex')}.sock`);
    const held = new Set<net.Socket>();
    const hung = net.createServer((s) => void held.add(s.on('error', () => undefined)));
    await new Promise<void>((resolve) => hung.listen(path, resolve));
    // callTimeoutMs stays at its default (60 s): an open that waited for a call would outlast this test.
    const driver = new DockerDriver({ docker: { socketPath: path }, pingTimeoutMs: 1000 });
    const stateDir = join(root, `state-${randomBytes(4).toString('hex')}`);
    try {
      const lifecycle = await openLifecycle(driver, { ...BASE_OPTIONS, stateDir }, { logger: pino({ level: 'silent' }) });
      try {
        expect(lifecycle.backendUnavailable()).toMatch(/did not answer a ping/);
        await expect(lifecycle.start({ image: IMAGE, sessionId: 'hung' })).rejects.toMatchObject({ code: 'backend_unavailable' });
        expect(lifecycle.bySession('hung')).toBeUndefined();
      } finally {
        await lifecycle.close();
      }
    } finally {
      await driver.close();
      for (const s of held) s.destroy();
      await new Promise<void>((resolve) => hung.close(() => resolve()));
    }
  }, 30_000);

  it('opens without it (reads from the store, the rest refused at once), reconciles once it answers, and again after it went away while running', async () => {
    const path = join(root, `engine-${randomBytes(4).toString('hex')}.sock`);
    const stateDir = join(root, `state-${randomBytes(4).toString('hex')}`);
    const driver = new DockerDriver({ docker: { socketPath: path }, watch: { maxRetryMs: 500 } });
    const opened: RuntimeLifecycle[] = [];
    let service = '';
    cleanUps.push(async () => {
      for (const l of opened) await l.close();
      await driver.close();
      if (service) await removeLabelled(`${LABELS.service}=${service}`);
    });
    const open = async () => {
      const l = await openLifecycle(driver, { ...BASE_OPTIONS, baseMemoryMb: 512, stateDir }, { logger: pino({ level: 'silent' }) });
      opened.push(l);
      service = l.serviceLabels[LABELS.service];
      return l;
    };

    // Made while the engine answers: a runtime that stays, one whose container goes while the service is away, and a leftover.
    let forwarder = await forward(path);
    const first = await open();
    const kept = await first.start({ image: IMAGE, sessionId: 'kept' });
    const gone = await first.start({ image: IMAGE, sessionId: 'gone' });
    await first.close();
    docker('rm', '-f', gone.sandboxId!);
    const leftover = docker('run', '-d', '--label', `${LABELS.managed}=runtime-client-api`, '--label', `${LABELS.service}=${service}`, '--label', `${LABELS.runtimeId}=rt-eeeeeeeeeeeeeeeeeeeeeeee`, IMAGE, 'sleep', '600');
    await goAway(forwarder);

    const second = await open();
    expect(second.backendUnavailable()).toMatch(/does not answer/);
    expect(second.get(kept.runtimeId)).toMatchObject({ status: 'running', podStatus: 'ready' });
    expect(second.get(gone.runtimeId)).toMatchObject({ status: 'running' });
    const refused = await second.start({ image: IMAGE, sessionId: 'new' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(LifecycleError);
    expect(refused).toMatchObject({ code: 'backend_unavailable' });
    await expect(second.pause(kept.runtimeId)).rejects.toMatchObject({ code: 'backend_unavailable' });
    await expect(second.stop(kept.runtimeId)).rejects.toMatchObject({ code: 'backend_unavailable' });
    expect(second.get(kept.runtimeId)).toMatchObject({ status: 'running', podStatus: 'ready' });
    expect(second.bySession('new')).toBeUndefined();
    expect(docker('ps', '-aq', '--no-trunc', '--filter', `id=${leftover}`)).not.toBe('');

    forwarder = await forward(path);
    await until(() => second.backendUnavailable() === null, 30_000, 'the engine taken as back');
    expect(second.reconciled).toEqual({ removed: 1, stopped: 1, failed: 0, restarted: 0 });
    expect(docker('ps', '-aq', '--no-trunc', '--filter', `id=${leftover}`)).toBe('');
    expect(second.get(gone.runtimeId)).toMatchObject({ status: 'stopped', podStatus: 'not found' });
    expect(await run(kept.directUrl!, kept.apiKey, 'echo kept')).toBe('kept');
    const fresh = await second.start({ image: IMAGE, sessionId: 'new' });
    expect(fresh.podStatus).toBe('ready');

    // Away while running: a start fails 503 and makes nothing; once back, the event stream is followed again.
    await goAway(forwarder);
    await expect(second.start({ image: IMAGE, sessionId: 'while-away' })).rejects.toMatchObject({ code: 'backend_unavailable' });
    expect(second.backendUnavailable()).not.toBeNull();
    await expect(second.start({ image: IMAGE, sessionId: 'while-away' })).rejects.toMatchObject({ code: 'backend_unavailable' });
    forwarder = await forward(path);
    await until(() => second.backendUnavailable() === null, 30_000, 'the engine taken as back again');
    expect(second.bySession('while-away')?.status ?? 'none').not.toBe('running');
    // After the reconciliation only the event stream can tell this death (a stream that reconnects
    // later replays the events since the last one it told).
    docker('kill', fresh.sandboxId!);
    await until(() => second.get(fresh.runtimeId)!.podStatus === 'failed', 15_000, 'the death told by the event stream after it reconnected');
    expect(second.get(fresh.runtimeId)).toMatchObject({ restartCount: 1, restartReasons: ['exited with status 137'] });
  }, 180_000);
});
