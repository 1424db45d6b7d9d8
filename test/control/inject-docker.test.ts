// `--inject image` on Docker: the driver makes each sandbox from its base image's injected image
// (built once on the engine through its API, found by its tag after) instead of binding the bundle.
// Through the lifecycle core and the real driver: a start runs the injected image with no bind
// mount, a second start and two concurrent first starts build once, the warm pool's refills build
// once, a missing base image builds nothing, a failed build leaves nothing, OpenHands' user flags
// work; and once through the real service (`runtime-client api --inject image`, dist/cli.mjs). The base images are aliases of rc-test/bookworm:1 under names of this run (so that the
// injected tags are new), removed at the end with every image built from them.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { findBundle, LABEL_BASE } from '@runtime-client/dockerfiles';
import { DockerDriver } from '../../control/docker/index.js';
import { CONTEXT_PREFIX, type InjectedImage } from '../../control/docker/inject.js';
import { createRequest } from '../../control/docker/spec.js';
import { LABELS } from '../../control/driver.js';
import { openLifecycle, type RuntimeLifecycle } from '../../control/lifecycle/lifecycle.js';
import { prepareImages, removeLabelled, requireEngine } from '../docker/engine.js';
import { startApiService } from '../helpers/api-service.js';
import { BASE_OPTIONS, run, until } from './lifecycle-fixture.js';

const hasEngine = requireEngine();
const RUN = `${process.pid}-${Date.now().toString(36)}`;
/** A base image name of this run, an alias of the test image. */
const alias = (what: string) => `rc-test-inject-${RUN}/${what}:1`;
const execFileAsync = promisify(execFile);
const docker = (...args: string[]) => execFileSync('docker', args, { encoding: 'utf8' }).trim();
const inspect = (id: string) => JSON.parse(docker('inspect', id))[0];

let root: string;
let driver: DockerDriver;
const injected: InjectedImage[] = [];
const opened: RuntimeLifecycle[] = [];
const aliases: string[] = [];
/** Images this file built itself (not through the driver). */
const ownBuilt: string[] = [];

const built = (base: string) => injected.filter((i) => i.baseImage === base && i.how === 'built');
const ofBase = (base: string) => injected.filter((i) => i.baseImage === base);

async function open(options: Partial<typeof BASE_OPTIONS> = {}): Promise<RuntimeLifecycle> {
  const lifecycle = await openLifecycle(driver, { ...BASE_OPTIONS, baseMemoryMb: 512, ...options, stateDir: join(root, `s${opened.length}`) }, { logger: pino({ level: 'silent' }) });
  opened.push(lifecycle);
  return lifecycle;
}

function newBase(what: string): string {
  const name = alias(what);
  docker('tag', 'rc-test/bookworm:1', name);
  aliases.push(name);
  return name;
}

/** The rc-injected images built from `base` (their LABEL_BASE). */
const injectedOf = (base: string) => docker('images', '--filter', `label=${LABEL_BASE}=${base}`, '--format', '{{.Repository}}:{{.Tag}}').split('\n').filter(Boolean);

/** The driver's temporary build contexts (beside the bundle). */
const contexts = () => {
  const dir = join(dirname(findBundle().dir), '.build-contexts');
  return existsSync(dir) ? readdirSync(dir).filter((n) => n.startsWith(CONTEXT_PREFIX)) : [];
};

describe('the create body of an injected image', () => {
  const spec = { runtimeId: 'r1', sessionId: 's1', image: 'base:1', env: { A: 'b' }, apiKey: 'k', cpus: 1, memoryMb: 64, pidsLimit: 100, labels: { l: 'v' }, username: 'openhands', userId: 1000, workingDir: '/workspace', awaitConfig: true };

  it('is the mount body (unchanged) without the bind and the entrypoint, its Cmd the server flags, its health check off', () => {
    const mount = createRequest(spec, '/b', '127.0.0.1');
    expect(createRequest(spec, { bundleDir: '/b' }, '127.0.0.1')).toEqual(mount);
    expect(mount.body).toMatchObject({
      Image: 'base:1',
      Entrypoint: ['/opt/runtime-client/bin/tini'],
      Cmd: ['--', '/opt/runtime-client/bin/runtime-client', '--username', 'openhands', '--user-id', '1000', '--working-dir', '/workspace', '--await-config'],
      HostConfig: { Binds: ['/b:/opt/runtime-client:ro'], Init: false },
    });
    const { name, body } = createRequest(spec, { injectedImage: 'rc-injected/base-1:0123' }, '127.0.0.1');
    const { Entrypoint: _e, Cmd: _c, Image: _i, HostConfig: mountHost, ...mountRest } = mount.body as Record<string, Record<string, unknown>>;
    const { Binds: _b, ...mountHostRest } = mountHost;
    expect(name).toBe(mount.name);
    expect(body).toEqual({
      ...mountRest,
      Image: 'rc-injected/base-1:0123',
      Cmd: ['--username', 'openhands', '--user-id', '1000', '--working-dir', '/workspace', '--await-config'],
      Healthcheck: { Test: ['NONE'] },
      HostConfig: mountHostRest,
    });
    expect(() => createRequest(spec, { injectedImage: ' ' }, '127.0.0.1')).toThrow('injectedImage must be an image name, got " "');
  });
});

describe.skipIf(!hasEngine)('--inject image on Docker', () => {
  beforeAll(() => {
    prepareImages('bookworm');
    root = mkdtempSync(join(tmpdir(), 'rc-inject-docker-'));
    driver = new DockerDriver({ inject: 'image', onInjectedImage: (i) => void injected.push(i) });
  }, 600_000);

  afterEach(async () => {
    for (const l of opened.splice(0)) {
      const service = l.serviceLabels[LABELS.service];
      await l.close();
      await removeLabelled(`${LABELS.service}=${service}`);
    }
  });

  afterAll(async () => {
    await driver?.close();
    if (root) rmSync(root, { recursive: true, force: true });
    if (!hasEngine) return;
    // Only what this run made: the images built from its aliases, then the aliases (untagging
    // leaves rc-test/bookworm:1 as it was), then the images it built itself.
    const failures: string[] = [];
    const rmi = (...args: string[]) => {
      try {
        docker('rmi', ...args);
      } catch (e) {
        failures.push((e as Error).message);
      }
    };
    // By id: a build that lost its tag to another (a bug the tests would catch) is untagged.
    const ids = new Set([...aliases, ...ownBuilt].flatMap((base) => docker('images', '--quiet', '--no-trunc', '--filter', `label=${LABEL_BASE}=${base}`).split('\n').filter(Boolean)));
    for (const id of ids) rmi('--force', id);
    for (const name of [...aliases, ...ownBuilt]) rmi(name);
    expect(failures).toEqual([]);
  }, 120_000);

  it('a start runs the injected image with no bind mount of the bundle; its runtime runs commands and needs the key', async () => {
    const base = newBase('first');
    const lifecycle = await open();
    const r = await lifecycle.start({ image: base, sessionId: 'first', env: { GREETING: 'hi there' } });
    expect(r).toMatchObject({ status: 'running', podStatus: 'ready', image: base });
    expect(built(base)).toHaveLength(1);
    const tag = built(base)[0].image;
    expect(tag).toMatch(/^rc-injected\//);
    const c = inspect(r.sandboxId!);
    expect(c.Config.Image).toBe(tag);
    expect(c.Image).toBe(inspect(tag).Id);
    expect(c.HostConfig.Binds ?? []).toEqual([]);
    expect(c.Mounts.filter((m: { Destination: string }) => m.Destination.startsWith('/opt/runtime-client'))).toEqual([]);
    // The image's own entrypoint; no health check runs in the sandbox (the lifecycle probes /alive).
    expect(c.Config.Entrypoint).toEqual(['/opt/runtime-client/bin/tini', '--', '/opt/runtime-client/bin/runtime-client']);
    expect(c.Config.Healthcheck.Test).toEqual(['NONE']);
    expect(c.State.Health).toBeUndefined();
    expect(c.HostConfig).toMatchObject({ Memory: 512 * 2 ** 20, RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 } });
    expect(await run(r.directUrl!, r.apiKey, 'echo "$GREETING"; test -e /opt/runtime-client/manifest.json && echo injected')).toBe('hi there\ninjected');
    const noKey = await fetch(`${r.directUrl}/execute_action`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(noKey.status).toBe(401);
    expect(contexts()).toEqual([]);

    // A second start of the same base image finds the image: no build, the same image.
    const createdAt = inspect(tag).Created;
    const again = await lifecycle.start({ image: base, sessionId: 'second' });
    expect(built(base)).toHaveLength(1);
    expect(ofBase(base).at(-1)).toMatchObject({ how: 'cached', image: tag });
    expect(inspect(again.sandboxId!).Image).toBe(c.Image);
    expect(inspect(tag).Created).toBe(createdAt);
    expect(await run(again.directUrl!, again.apiKey, 'echo again')).toBe('again');

    // An injected image of this bundle given as the base is run as it is.
    const asIs = await lifecycle.start({ image: tag, sessionId: 'as-is' });
    expect(ofBase(tag)).toEqual([{ baseImage: tag, image: tag, how: 'base' }]);
    expect(inspect(asIs.sandboxId!).Config.Image).toBe(tag);
    expect(await run(asIs.directUrl!, asIs.apiKey, 'echo as is')).toBe('as is');
  }, 300_000);

  it('through the service: `runtime-client api --inject image` starts injected sandboxes, built once', async () => {
    const base = newBase('service');
    const svc = await startApiService({ args: ['--inject', 'image'] });
    try {
      const start = async (session: string) => {
        const res = await fetch(`${svc.url}/start`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': svc.key! }, body: JSON.stringify({ image: base, session_id: session }) });
        expect(res.status).toBe(200);
        return (await res.json()) as { url: string; session_api_key: string; runtime_id: string };
      };
      const [a, b] = await Promise.all([start(`inject-svc-a-${RUN}`), start(`inject-svc-b-${RUN}`)]);
      const c = start(`inject-svc-c-${RUN}`);
      for (const r of [a, b, await c]) {
        const container = inspect(`rc-${r.runtime_id}`);
        expect(container.Config.Image).toMatch(/^rc-injected\//);
        expect(container.HostConfig.Binds ?? []).toEqual([]);
        expect(await run(r.url, r.session_api_key, 'echo through the proxy')).toBe('through the proxy');
      }
      expect(svc.logs.filter((l) => l.msg === 'injected image built' && l.baseImage === base)).toHaveLength(1);
      expect(injectedOf(base)).toHaveLength(1);
    } finally {
      await svc.close([`inject-svc-a-${RUN}`, `inject-svc-b-${RUN}`, `inject-svc-c-${RUN}`]);
    }
  }, 300_000);

  it('two concurrent first starts of one base image build it once', async () => {
    const base = newBase('concurrent');
    const lifecycle = await open();
    const [a, b] = await Promise.all([lifecycle.start({ image: base, sessionId: 'c1' }), lifecycle.start({ image: base, sessionId: 'c2' })]);
    expect(built(base)).toHaveLength(1);
    expect(ofBase(base).map((i) => i.how).sort()).toEqual(['built', 'cached']);
    expect(inspect(a.sandboxId!).Image).toBe(inspect(b.sandboxId!).Image);
    expect(injectedOf(base)).toEqual([built(base)[0].image]);
    expect(await run(b.directUrl!, b.apiKey, 'echo two')).toBe('two');
  }, 300_000);

  it('the warm pool of a base image builds it once and hands out OpenHands’ user (created), working dir and environment', async () => {
    const base = newBase('warm');
    const lifecycle = await open({ warm: { [base]: 2 } });
    await until(() => lifecycle.warmPool()[base].ready === 2, 120_000, 'two warm');
    expect(built(base)).toHaveLength(1);
    const warmIds = new Set(lifecycle.warmPool()[base].sandboxIds);
    const oh = await lifecycle.start({ image: base, sessionId: 'oh', env: { FOO: 'from the start' }, workingDir: '/workspace', username: 'openhands', userId: 1000 });
    expect(warmIds.has(oh.sandboxId!)).toBe(true);
    expect(await run(oh.directUrl!, oh.apiKey, 'echo "$FOO"; id -un; id -u; pwd; touch /workspace/x && echo written')).toBe('from the start\nopenhands\n1000\n/workspace\nwritten');
    await until(() => lifecycle.warmPool()[base].ready === 2, 120_000, 'refilled');
    expect(built(base)).toHaveLength(1);
  }, 300_000);

  it('a cold start with OpenHands’ user flags creates the user and starts the shells there', async () => {
    const base = newBase('user');
    const lifecycle = await open();
    const r = await lifecycle.start({ image: base, sessionId: 'cold-oh', workingDir: '/workspace', username: 'openhands', userId: 1000 });
    expect(await run(r.directUrl!, r.apiKey, 'id -un; id -u; pwd; getent passwd openhands | cut -d: -f3')).toBe('openhands\n1000\n/workspace\n1000');
    const c = inspect(r.sandboxId!);
    expect(c.Config.User).toBe('0');
    expect(c.Config.Cmd).toEqual(['--username', 'openhands', '--user-id', '1000', '--working-dir', '/workspace']);
  }, 300_000);

  it('a base image the engine lacks is image_not_found; nothing is built or left', async () => {
    const missing = alias('missing');
    const lifecycle = await open();
    await expect(lifecycle.start({ image: missing, sessionId: 'missing' })).rejects.toMatchObject({ code: 'image_not_found' });
    expect(ofBase(missing)).toEqual([]);
    expect(injectedOf(missing)).toEqual([]);
    expect(await driver.list(lifecycle.serviceLabels)).toEqual([]);
    expect(contexts()).toEqual([]);
  }, 120_000);

  it('a build that outlasts buildTimeoutMs (a base image’s ONBUILD step that hangs) is cancelled: the start fails, nothing is left', async () => {
    const base = `rc-test-inject-${RUN}/hangs:1`;
    const marker = `hang-${RUN}`;
    execFileSync('docker', ['build', '--quiet', '--tag', base, '-'], { input: `FROM rc-test/bookworm:1\nONBUILD RUN sleep 600 || echo ${marker}\n` });
    ownBuilt.push(base);
    // Long enough for the context to reach the engine and the ONBUILD step to start.
    const impatient = new DockerDriver({ inject: 'image', buildTimeoutMs: 10_000, onInjectedImage: (i) => void injected.push(i) });
    const hanging = async () => (await execFileAsync('docker', ['ps', '-a', '--no-trunc', '--format', '{{.Command}}'])).stdout.includes(marker);
    try {
      const lifecycle = await openLifecycle(impatient, { ...BASE_OPTIONS, stateDir: join(root, 'impatient') }, { logger: pino({ level: 'silent' }) });
      opened.push(lifecycle);
      const start = lifecycle.start({ image: base, sessionId: 'hangs' });
      start.catch(() => {});
      await until(hanging, 10_000, 'the ONBUILD step running');
      await expect(start).rejects.toThrow(/the injected image of .*hangs:1 was not built within 10000 ms/);
      expect(built(base)).toEqual([]);
      expect(injectedOf(base)).toEqual([]);
      expect(await impatient.list(lifecycle.serviceLabels)).toEqual([]);
      expect(contexts()).toEqual([]);
      // The engine ends the build's container once the request is cut.
      await until(async () => !(await hanging()), 30_000, 'the build container removed');
    } finally {
      await impatient.close();
    }
  }, 120_000);

  it('a build that fails fails the start with the build’s text, and leaves no container, image or context', async () => {
    // The suffix stage copies the bundle to /opt/runtime-client: a file there makes that step fail.
    const base = `rc-test-inject-${RUN}/unbuildable:1`;
    execFileSync('docker', ['build', '--quiet', '--tag', base, '-'], { input: 'FROM rc-test/bookworm:1\nRUN mkdir -p /opt && echo file > /opt/runtime-client\n' });
    ownBuilt.push(base);
    const lifecycle = await open();
    const failed = lifecycle.start({ image: base, sessionId: 'unbuildable' });
    // The lifecycle's code for an engine failure that is not the caller's (the service's 500).
    await expect(failed).rejects.toMatchObject({ code: 'bad_request', field: 'image' });
    await expect(failed).rejects.toThrow(/the injected image of rc-test-inject-.*unbuildable:1 could not be built: .+/);
    expect(built(base)).toEqual([]);
    expect(injectedOf(base)).toEqual([]);
    expect(await driver.list(lifecycle.serviceLabels)).toEqual([]);
    expect(contexts()).toEqual([]);
  }, 300_000);
});
