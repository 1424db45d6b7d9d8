// The control plane's Docker driver against the real engine: sandboxes in mount mode on
// rc-test/bookworm:1, reached at their published url with their key, paused, resumed, removed,
// listed and watched by labels, built; and the engine's failures as DriverErrors. An engine
// behind a unix-socket proxy of the test's own shows what goes over the wire and cuts the event
// stream the way an engine restart does.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { RuntimeClient } from '@runtime-client/client';
import { DockerDriver } from '../../control/docker/index.js';
import { DriverError } from '../../control/driver.js';
import type { DriverEvent, SandboxSpec } from '../../control/driver.js';
import { prepareImages, removeLabelled, requireEngine } from '../docker/engine.js';
import { startSocketProxy, type SocketProxy } from '../helpers/socket-proxy.js';

const hasEngine = requireEngine();
const IMAGE = 'rc-test/bookworm:1';
const RUN = `${process.pid}-${randomBytes(3).toString('hex')}`;
// A key of this file's own: other files remove what carries theirs.
const TEST_LABEL = 'dev.runtime-client.test-docker-driver';
const LABELS = { [TEST_LABEL]: RUN };
const BUILT_TAG = `rc-test-driver/built:${RUN}`;
const ENGINE_SOCKET = process.env.DOCKER_HOST?.startsWith('unix://') ? process.env.DOCKER_HOST.slice('unix://'.length) : '/var/run/docker.sock';

let scratch: string;
let driver: DockerDriver;
let count = 0;

const key = () => randomBytes(16).toString('hex');

function spec(over: Partial<SandboxSpec> = {}): SandboxSpec {
  return {
    runtimeId: `drv-${RUN}-${++count}`,
    sessionId: `s-${count}`,
    image: IMAGE,
    env: {},
    apiKey: key(),
    cpus: 1,
    memoryMb: 512,
    pidsLimit: 256,
    ...over,
    labels: { ...LABELS, ...over.labels },
  };
}

/** GET `path` (default /alive): its status, or null when nothing answers within `timeoutMs`. */
async function alive(url: string, apiKey?: string, timeoutMs = 2000, path = '/alive'): Promise<number | null> {
  try {
    const res = await fetch(`${url}${path}`, { headers: apiKey ? { 'x-session-api-key': apiKey } : {}, signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return null;
  }
}

/** Polls /alive until it answers 200 (runtime-client takes a few hundred ms to listen). */
async function waitAlive(url: string, apiKey: string, withinMs = 20_000): Promise<void> {
  const until = Date.now() + withinMs;
  while (Date.now() < until) {
    if ((await alive(url, apiKey, 1000)) === 200) return;
    await sleep(50);
  }
  throw new Error(`${url}/alive did not answer 200 within ${withinMs} ms`);
}

/** Ids of the containers carrying this run's label (and `extra`), straight from the engine. */
async function ours(extra: Record<string, string> = {}): Promise<string[]> {
  const label = Object.entries({ ...LABELS, ...extra }).map(([k, v]) => `${k}=${v}`);
  return (await driver.docker.listContainers({ all: true, filters: { label } })).map((c) => c.Id);
}

async function until<T>(what: string, get: () => T | undefined, withinMs = 15_000): Promise<T> {
  const end = Date.now() + withinMs;
  for (;;) {
    const value = get();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** A unix-socket proxy in front of the engine: records what clients send, and can cut every connection. */
function engineProxy(socketPath: string): Promise<SocketProxy> {
  return startSocketProxy(socketPath, { path: ENGINE_SOCKET }, { record: true });
}

/** A gzipped tar of `files` (a build context). */
function contextOf(files: Record<string, string>): Buffer {
  const dir = mkdtempSync(join(scratch, 'ctx-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return execFileSync('tar', ['-czf', '-', '-C', dir, '.']);
}

describe.skipIf(!hasEngine)('DockerDriver (control plane, real engine)', () => {
  beforeAll(() => {
    prepareImages('bookworm');
    scratch = mkdtempSync(join(tmpdir(), 'rc-driver-test-'));
    driver = new DockerDriver({ watch: { retryMs: 50, maxRetryMs: 200 } });
  }, 600_000);

  afterAll(async () => {
    await driver?.close();
    await removeLabelled(`${TEST_LABEL}=${RUN}`);
    try {
      await driver?.docker.getImage(BUILT_TAG).remove({ force: true });
    } catch {
      // not built
    }
    rmSync(scratch, { recursive: true, force: true });
  });

  it('create runs runtime-client from the mounted bundle: /alive 200 at the url, the key required (401 without); the env, working dir and user reach the shells', async () => {
    const s = spec({ env: { FOO: 'bar baz' }, workingDir: '/tmp', username: 'nobody' });
    const state = await driver.create(s);
    expect(state.status).toBe('running');
    expect(state.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(state.restartCount).toBe(0);
    await waitAlive(state.url!, s.apiKey);
    expect(await alive(state.url!, s.apiKey, 2000, '/server_info')).toBe(200);
    expect(await alive(state.url!, undefined, 2000, '/server_info')).toBe(401);
    expect(await alive(state.url!, 'wrong', 2000, '/server_info')).toBe(401);

    const client = new RuntimeClient({ url: state.url!, apiKey: s.apiKey });
    try {
      const result = await client.run('printf "%s|" "$FOO" "$PWD" "$(id -un)"');
      expect(result.output.trim()).toBe('bar baz|/tmp|nobody|');
    } finally {
      await client.close();
    }
    // Mount mode: the base image itself, the bundle read-only, its tini as the entrypoint.
    const raw = await driver.docker.getContainer(state.id).inspect();
    expect(raw.Config.Image).toBe(IMAGE);
    expect(raw.Config.Entrypoint).toEqual(['/opt/runtime-client/bin/tini']);
    expect(raw.HostConfig.Binds?.some((b) => b.endsWith(':/opt/runtime-client:ro'))).toBe(true);
    expect(raw.Name).toBe(`/rc-${s.runtimeId}`);
    await driver.remove(state.id);
  });

  it('puts the labels on the container and the limits into the engine (NanoCpus, Memory, PidsLimit)', async () => {
    const s = spec({ cpus: 0.5, memoryMb: 256, pidsLimit: 64, labels: { 'dev.runtime-client.runtime-id': 'rt-1', extra: 'yes' } });
    const state = await driver.create(s);
    expect(state.labels).toMatchObject({ ...LABELS, 'dev.runtime-client.runtime-id': 'rt-1', extra: 'yes' });
    const raw = await driver.docker.getContainer(state.id).inspect();
    expect(raw.HostConfig.NanoCpus).toBe(500_000_000);
    expect(raw.HostConfig.Memory).toBe(256 * 1024 * 1024);
    expect(raw.HostConfig.PidsLimit).toBe(64);
    await driver.remove(state.id);
  });

  it('never puts the key into a URL (dockerode copies a create body into the query unless told not to)', async () => {
    const proxy = await engineProxy(join(scratch, 'sniff.sock'));
    const sniffed = new DockerDriver({ docker: { socketPath: proxy.socketPath } });
    try {
      const s = spec();
      const state = await sniffed.create(s);
      const requestLines = [...proxy.sent.matchAll(/(?:GET|POST|DELETE|PUT|HEAD) \/\S* HTTP\/1\.1/g)].map((m) => m[0]);
      expect(requestLines.some((line) => line.startsWith('POST /containers/create?name='))).toBe(true);
      expect(requestLines.join('\n')).not.toContain(s.apiKey);
      expect(requestLines.find((line) => line.startsWith('POST /containers/create'))!.length).toBeLessThan(200);
      // The key goes in the body, where the engine reads it.
      expect(proxy.sent).toContain(`SESSION_API_KEY=${s.apiKey}`);
      await sniffed.remove(state.id);
    } finally {
      await sniffed.close();
      await proxy.close();
    }
  });

  it('pause stops /alive from answering, resume brings it back; both are idempotent; a paused one is removed as it is', async () => {
    const s = spec();
    const state = await driver.create(s);
    await waitAlive(state.url!, s.apiKey);
    await driver.pause(state.id);
    await driver.pause(state.id);
    expect(await alive(state.url!, s.apiKey, 1000)).toBeNull();
    const paused = await driver.inspect(state.id);
    expect(paused?.status).toBe('paused');
    expect(paused?.url).toBe(state.url);
    await driver.resume(state.id);
    await driver.resume(state.id);
    expect(await alive(state.url!, s.apiKey, 5000)).toBe(200);
    expect((await driver.inspect(state.id))?.status).toBe('running');
    // A paused sandbox can be removed as it is (the reaper stops paused ones past --paused-ttl).
    await driver.pause(state.id);
    await driver.remove(state.id);
    expect(await driver.inspect(state.id)).toBeNull();
  });

  it('remove takes a running sandbox away; removing it again is fine; inspect of it is null', async () => {
    const state = await driver.create(spec());
    await driver.remove(state.id);
    await driver.remove(state.id);
    expect(await driver.inspect(state.id)).toBeNull();
    expect(await ours()).not.toContain(state.id);
  });

  it('list by labels finds exactly the sandboxes carrying all of them', async () => {
    const group = `g-${RUN}`;
    const a = await driver.create(spec({ labels: { group, side: 'a' } }));
    const b = await driver.create(spec({ labels: { group, side: 'b' } }));
    const both = await driver.list({ ...LABELS, group });
    expect(both.map((s) => s.id).sort()).toEqual([a.id, b.id].sort());
    expect(both.every((s) => s.status === 'running' && s.url !== null)).toBe(true);
    const onlyB = await driver.list({ group, side: 'b' });
    expect(onlyB.map((s) => s.id)).toEqual([b.id]);
    expect(await driver.list({ group: `${group}-none` })).toEqual([]);
    await expect(driver.list({})).rejects.toThrow(/needs at least one label/);
    await Promise.all([driver.remove(a.id), driver.remove(b.id)]);
    expect(await driver.list({ ...LABELS, group })).toEqual([]);
  });

  it('watch sees start, pause, unpause, a kill as die with its exit code, and destroy; inspect then says exited', async () => {
    const watchLabel = { watch: `w-${RUN}` };
    const events: DriverEvent[] = [];
    const stop = driver.watch({ ...LABELS, ...watchLabel }, (e) => events.push(e));
    try {
      const state = await driver.create(spec({ labels: watchLabel }));
      await driver.pause(state.id);
      await driver.resume(state.id);
      await driver.docker.getContainer(state.id).kill({ signal: 'SIGKILL' });
      const die = await until('the die event', () => events.find((e) => e.kind === 'die' && e.id === state.id));
      expect(die.exitCode).toBe(137);
      expect(die.labels).toMatchObject({ ...LABELS, ...watchLabel });
      expect(events.filter((e) => e.id === state.id).map((e) => e.kind)).toEqual(['start', 'pause', 'unpause', 'die']);
      const exited = await driver.inspect(state.id);
      expect(exited).toMatchObject({ status: 'exited', exitCode: 137, oomKilled: false, url: null });
      await driver.remove(state.id);
      await until('the destroy event', () => events.find((e) => e.kind === 'destroy' && e.id === state.id));
    } finally {
      stop();
    }
  });

  it('watch opens a dropped event stream again and misses nothing that happened while it was down; stop ends it for good', async () => {
    const proxy = await engineProxy(join(scratch, 'events.sock'));
    const watched = new DockerDriver({ docker: { socketPath: proxy.socketPath }, watch: { retryMs: 300, maxRetryMs: 300 } });
    const watchLabel = { watch: `r-${RUN}` };
    const events: DriverEvent[] = [];
    try {
      const stop = watched.watch({ ...LABELS, ...watchLabel }, (e) => events.push(e));
      const first = await driver.create(spec({ labels: watchLabel }));
      await until('the first start', () => events.find((e) => e.kind === 'start' && e.id === first.id));
      // Cut the stream, and kill while it is down (the watch waits 300 ms before it reconnects).
      proxy.dropAll();
      await driver.docker.getContainer(first.id).kill({ signal: 'SIGKILL' });
      const die = await until('the die told after the reconnect', () => events.find((e) => e.kind === 'die' && e.id === first.id));
      expect(die.exitCode).toBe(137);
      // And it keeps following: a sandbox made after the reconnect is seen too, each event once.
      const second = await driver.create(spec({ labels: watchLabel }));
      await until('the second start', () => events.find((e) => e.kind === 'start' && e.id === second.id));
      proxy.dropAll();
      await sleep(700);
      expect(events.filter((e) => e.id === first.id).map((e) => e.kind)).toEqual(['start', 'die']);
      expect(events.filter((e) => e.id === second.id).map((e) => e.kind)).toEqual(['start']);

      stop();
      await until('the stream closed', () => (proxy.open === 0 ? true : undefined));
      const told = events.length;
      await driver.docker.getContainer(second.id).kill({ signal: 'SIGKILL' });
      await sleep(700);
      expect(events.length).toBe(told);
      expect(proxy.open).toBe(0);
      await Promise.all([driver.remove(first.id), driver.remove(second.id)]);
    } finally {
      await watched.close();
      await proxy.close();
    }
  });

  it('a missing image is image_not_found, and no container is left', async () => {
    const before = await ours();
    const err = await driver.create(spec({ image: `rc-test/missing-${RUN}:1` })).catch((e) => e);
    expect(err).toBeInstanceOf(DriverError);
    expect(err.code).toBe('image_not_found');
    expect(err.message).toContain(`rc-test/missing-${RUN}:1`);
    expect(await ours()).toEqual(before);
  });

  it('a runtime class the engine lacks is bad_runtime_class naming it, and no container is left; runtimeClasses() lists what it has', async () => {
    expect(await driver.runtimeClasses()).toContain('runc');
    const before = await ours();
    const err = await driver.create(spec({ runtimeClass: 'no-such-runtime' })).catch((e) => e);
    expect(err).toBeInstanceOf(DriverError);
    expect(err.code).toBe('bad_runtime_class');
    expect(err.message).toContain('no-such-runtime');
    expect(await ours()).toEqual(before);
  });

  it('a sandbox the engine cannot start (no tini in the bundle dir) fails create with the engine\'s words, and is removed', async () => {
    const emptyBundle = mkdtempSync(join(scratch, 'empty-bundle-'));
    const broken = new DockerDriver({ bundleDir: emptyBundle });
    const before = await ours();
    const err = await broken.create(spec()).catch((e) => e);
    expect(err).toBeInstanceOf(DriverError);
    expect(err.code).toBe('engine');
    expect(err.message).toMatch(/docker engine: start: .*\/opt\/runtime-client\/bin\/tini/);
    expect(await ours()).toEqual(before);
  });

  it('an aborted create rejects and leaves nothing behind, wherever the abort falls', async () => {
    const before = await ours();
    for (const afterMs of [0, 3, 40, 150, 260]) {
      const controller = new AbortController();
      if (afterMs === 0) controller.abort();
      else setTimeout(() => controller.abort(), afterMs);
      const outcome = await driver.create(spec(), controller.signal).catch((e) => e);
      // A create takes ~250 ms here (the engine's start): one that finished before a late abort
      // fell is a sandbox like any other.
      if (afterMs >= 200 && !(outcome instanceof Error)) await driver.remove(outcome.id);
      else expect(outcome?.name, `abort after ${afterMs} ms`).toBe('AbortError');
      expect(await ours(), `abort after ${afterMs} ms`).toEqual(before);
    }
  });

  it('a spec that cannot make a container is a TypeError naming the field, and creates nothing', async () => {
    const before = await ours();
    await expect(driver.create(spec({ env: { SESSION_API_KEY: 'x' } }))).rejects.toThrow('spec.env.SESSION_API_KEY is set by the driver and cannot be given');
    await expect(driver.create(spec({ cpus: 0 }))).rejects.toThrow('spec.cpus must be a number of CPUs, at least 0.01, got 0');
    await expect(driver.create(spec({ memoryMb: 2 }))).rejects.toThrow('spec.memoryMb must be a number of MiB, at least 6, got 2');
    await expect(driver.create(spec({ pidsLimit: 1.5 }))).rejects.toThrow('spec.pidsLimit must be a positive integer, got 1.5');
    await expect(driver.create(spec({ runtimeId: '../x' }))).rejects.toThrow(/^spec\.runtimeId must be/);
    await expect(driver.create(spec({ workingDir: 'relative' }))).rejects.toThrow('spec.workingDir must be an absolute path, got "relative"');
    expect(await ours()).toEqual(before);
  });

  it('build makes an image from a tar.gz context and resolves with its first tag; image() then reports it', async () => {
    const context = contextOf({ Dockerfile: `FROM ${IMAGE}\nLABEL dev.runtime-client.test-build="${RUN}"\n` });
    expect(await driver.build(context, [BUILT_TAG, `${BUILT_TAG}-second`])).toBe(BUILT_TAG);
    const info = await driver.image(BUILT_TAG);
    expect(info.exists).toBe(true);
    expect(info.sizeBytes).toBeGreaterThan(1_000_000);
    expect(Date.parse(info.createdAt!)).not.toBeNaN();
    const raw = await driver.docker.getImage(BUILT_TAG).inspect();
    expect(raw.Config.Labels?.['dev.runtime-client.test-build']).toBe(RUN);
    expect(raw.RepoTags).toContain(`${BUILT_TAG}-second`);
    await driver.docker.getImage(`${BUILT_TAG}-second`).remove();
    expect(await driver.image(`rc-test/missing-${RUN}:1`)).toEqual({ exists: false });
  });

  it("a failed build rejects with the build's own error text", async () => {
    const context = contextOf({ Dockerfile: `FROM ${IMAGE}\nRUN echo doomed && exit 3\n` });
    const err = await driver.build(context, [`${BUILT_TAG}-failed`]).catch((e) => e);
    expect(err).toBeInstanceOf(DriverError);
    expect(err.message).toMatch(/the build failed: .*returned a non-zero code: 3/);
    expect((await driver.image(`${BUILT_TAG}-failed`)).exists).toBe(false);
  });

  it('an engine that is not there, or does not answer, is backend_unavailable', async () => {
    const gone = new DockerDriver({ docker: { socketPath: join(scratch, 'no-engine.sock') } });
    await expect(gone.ping()).rejects.toMatchObject({ code: 'backend_unavailable' });
    await expect(gone.create(spec())).rejects.toMatchObject({ code: 'backend_unavailable' });
    await expect(gone.inspect('x')).rejects.toMatchObject({ code: 'backend_unavailable' });
    await expect(gone.image(IMAGE)).rejects.toMatchObject({ code: 'backend_unavailable' });

    // Accepts connections and never answers: the ping gives up after its timeout.
    const held: Socket[] = [];
    const mute = createServer((socket) => void held.push(socket));
    const mutePath = join(scratch, 'mute.sock');
    await new Promise<void>((resolve) => mute.listen(mutePath, resolve));
    const hung = new DockerDriver({ docker: { socketPath: mutePath }, pingTimeoutMs: 300, callTimeoutMs: 500 });
    try {
      const started = Date.now();
      await expect(hung.ping()).rejects.toThrow(/did not answer a ping within 300 ms/);
      expect(Date.now() - started).toBeLessThan(2000);
      await expect(hung.inspect('x')).rejects.toMatchObject({ code: 'backend_unavailable' });
      await expect(hung.image(IMAGE)).rejects.toMatchObject({ code: 'backend_unavailable' });
    } finally {
      for (const socket of held) socket.destroy();
      await new Promise<void>((resolve) => mute.close(() => resolve()));
    }
    await driver.ping();
  });
});
