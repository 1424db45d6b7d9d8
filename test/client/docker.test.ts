// DockerRuntime on a real engine and a real image: start, run, pause/resume, attach, list, close,
// limits, mounts, mount mode. Gated like test/docker/: skipped loudly without an engine.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerRuntime, LABEL_BASE, LABEL_MODE, LABEL_SESSION, createBody } from '../../client/docker/index.js';
import type { ProgressEvent } from '../../client/backends/backend.js';
import { RuntimeError } from '../../client/errors.js';
import { getBackend } from '../../client/backends/registry.js';
import { docker } from '../../client/docker/docker-cli.js';
import { prepareImages, removeLabelled, requireEngine } from '../docker/engine.js';
import { rejection } from '../helpers/rejection.js';
import { expectPausedClient, expectStreamsLines } from '../helpers/runtime-checks.js';

const BASE = 'rc-test/bookworm:1';
// Every container of this file carries it, so afterAll finds them whatever failed.
const TEST_LABEL = 'test.runtime-client.docker-client';
const labels = { [TEST_LABEL]: '1' };
const env = { NO_CHANGE_TIMEOUT_SECONDS: '2' };
const newSessionId = (what: string) => `rct-${what}-${randomBytes(3).toString('hex')}`;

async function inspectContainer(id: string): Promise<any> {
  return JSON.parse(await docker(['inspect', id]))[0];
}

describe('the container body', () => {
  const spec = { sessionId: 's1', image: 'img', baseImage: 'base', mode: 'build' as const, apiKey: 'k', hostPort: 4242 };

  it('publishes on 127.0.0.1 only, labels the session and carries the key in the environment only', () => {
    const body = createBody({ ...spec, env: { A: '1' }, cpus: 1.5, memoryMb: 512, mounts: [{ source: 'rel', target: '/data', readOnly: true }] }) as any;
    expect(body.HostConfig.PortBindings).toEqual({ '60000/tcp': [{ HostIp: '127.0.0.1', HostPort: '4242' }] });
    expect(body.HostConfig.NanoCpus).toBe(1_500_000_000);
    expect(body.HostConfig.Memory).toBe(512 * 1024 * 1024);
    expect(body.HostConfig.Mounts).toEqual([{ Type: 'bind', Source: join(process.cwd(), 'rel'), Target: '/data', ReadOnly: true }]);
    expect(body.Env).toEqual(['A=1', 'RUNTIME_CLIENT_PORT=60000', 'SESSION_API_KEY=k']);
    expect(body.Labels).toEqual({ [LABEL_SESSION]: 's1', [LABEL_BASE]: 'base', [LABEL_MODE]: 'build' });
    expect(JSON.stringify(body.Labels)).not.toContain('"k"');
  });

  it('keeps what mount mode starts from, replacing its port', () => {
    const base = { Image: 'base', Entrypoint: ['/tini'], Env: ['RUNTIME_CLIENT_PORT=60000'], HostConfig: { Binds: ['/b:/opt/runtime-client:ro'], Init: false } };
    const body = createBody({ ...spec, image: 'base', mode: 'mount' }, base) as any;
    expect(body.Entrypoint).toEqual(['/tini']);
    expect(body.HostConfig.Binds).toEqual(['/b:/opt/runtime-client:ro']);
    expect(body.Env).toEqual(['RUNTIME_CLIENT_PORT=60000', 'SESSION_API_KEY=k']);
  });

  it('checks client options before building anything', async () => {
    await expect(DockerRuntime.start({ baseImage: 'no-such-image-anywhere', client: { retries: -1 } })).rejects.toThrow(TypeError);
  });

  it.each([
    [{ sessionId: 'no spaces' }, 'sessionId must be 1-63 characters of A-Z a-z 0-9 _ . - starting with a letter or digit, got "no spaces"'],
    [{ env: { SESSION_API_KEY: 'x' } }, 'env.SESSION_API_KEY is set by DockerRuntime and cannot be given'],
    [{ cpus: 0 }, 'cpus must be a positive number, got 0'],
    [{ memoryMb: 2 }, 'memoryMb must be a number of MiB, at least 6, got 2'],
    [{ mounts: [{ source: '/x', target: 'rel' }] }, 'mounts[].target must be an absolute path, got "rel"'],
    [{ labels: { [LABEL_SESSION]: 'other' } }, `labels.${LABEL_SESSION} is reserved for DockerRuntime`],
  ])('refuses %j', (options, message) => {
    expect(() => createBody({ ...spec, ...options })).toThrow(new TypeError(message));
  });
});

const hasEngine = requireEngine();

describe.runIf(hasEngine)('DockerRuntime', () => {
  beforeAll(() => {
    prepareImages('bookworm');
  }, 900_000);

  afterAll(async () => {
    await removeLabelled(TEST_LABEL);
  });

  describe('one runtime, from start to close', () => {
    const sessionId = newSessionId('life');
    const events: ProgressEvent[] = [];
    let runtime: DockerRuntime;

    beforeAll(async () => {
      runtime = await DockerRuntime.start({ baseImage: BASE, sessionId, env, labels, onProgress: (e) => events.push(e) });
    }, 300_000);

    it('starts a named, labelled container published on 127.0.0.1 and reports its progress', async () => {
      expect(runtime.sessionId).toBe(sessionId);
      expect(runtime.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(runtime.state).toBe('running');
      const c = await inspectContainer(runtime.containerId);
      expect(c.Name).toBe(`/runtime-client-${sessionId}`);
      expect(c.Config.Labels[LABEL_SESSION]).toBe(sessionId);
      expect(c.Config.Labels[LABEL_BASE]).toBe(BASE);
      expect(c.HostConfig.PortBindings['60000/tcp']).toEqual([{ HostIp: '127.0.0.1', HostPort: runtime.url.split(':')[2] }]);
      const key = c.Config.Env.find((e: string) => e.startsWith('SESSION_API_KEY='))?.slice('SESSION_API_KEY='.length);
      expect(key).toMatch(/^[0-9a-f]{64}$/);
      expect(JSON.stringify(c.Config.Labels)).not.toContain(key);

      const phases = [...new Set(events.map((e) => e.phase))];
      expect(phases).toEqual(['build', 'create', 'start', 'wait', 'ready']);
      expect(events.every((e, i) => i === 0 || e.elapsedMs >= events[i - 1]!.elapsedMs)).toBe(true);
    });

    it('needs the key: a client without it is refused', async () => {
      const res = await fetch(`${runtime.url}/server_info`);
      expect(res.status).toBe(401);
    });

    it('runs commands, with exit codes as data', async () => {
      const hi = await runtime.client.run('echo hi');
      expect(hi).toMatchObject({ exitCode: 0, output: 'hi\n', timedOut: false });
      expect((await runtime.client.run('(exit 3)')).exitCode).toBe(3);
      expect((await runtime.client.run('no-such-command-here')).exitCode).toBe(127);
      // The key stays with the server: the shells do not see it.
      expect((await runtime.client.run('echo "${SESSION_API_KEY:-unset}"')).output).toBe('unset\n');
    });

    it('streams output through the published port', async () => {
      await expectStreamsLines(runtime.client);
    });

    it('fails fast while paused, and resumes with the shell as it was', async () => {
      await runtime.client.run('cd /tmp && export MARK=before-pause');
      await runtime.pause();
      expect(runtime.state).toBe('paused');
      expect((await inspectContainer(runtime.containerId)).State.Paused).toBe(true);

      const started = Date.now();
      const error = await rejection(runtime.client.run('echo never'));
      expect(error.code).toBe('paused');
      expect(Date.now() - started).toBeLessThan(1000);
      expect((await rejection(runtime.client.execute({ action: 'run', args: { command: 'true' } }))).code).toBe('paused');
      await expectPausedClient(runtime.client);
      expect(Date.now() - started).toBeLessThan(1000);
      // Another object attached meanwhile knows it from the engine.
      const other = await DockerRuntime.attach(sessionId);
      expect(other.state).toBe('paused');
      expect((await rejection(other.client.run('echo never'))).code).toBe('paused');
      await other.client.close();
      // A client that does not know the state would hang: the port accepts and never answers.
      await expect(fetch(`${runtime.url}/alive`, { signal: AbortSignal.timeout(500) })).rejects.toThrow();

      await runtime.resume();
      expect(runtime.state).toBe('running');
      const after = await runtime.client.run('pwd; echo $MARK');
      expect(after).toMatchObject({ exitCode: 0, output: '/tmp\nbefore-pause\n', cwd: '/tmp' });
    });

    it('reports a pause made behind its back as paused once the call gives up', async () => {
      const watcher = await DockerRuntime.attach(sessionId, { client: { timeoutMs: 1000, retries: 0 } });
      await docker(['pause', runtime.containerId]);
      try {
        expect((await rejection(watcher.client.serverInfo())).code).toBe('paused');
        expect(watcher.state).toBe('paused');
      } finally {
        await watcher.resume();
        await watcher.client.close();
      }
      expect(watcher.state).toBe('running');
      expect((await runtime.client.run('echo back')).output).toBe('back\n');
    });

    it('is found by attach() from a second runtime object, which sees the same shells', async () => {
      const second = await DockerRuntime.attach(sessionId);
      expect(second).toMatchObject({ sessionId, containerId: runtime.containerId, url: runtime.url, state: 'running' });
      expect(await second.client.run('pwd; echo $MARK')).toMatchObject({ output: '/tmp\nbefore-pause\n' });
      await second.client.run('export FROM_SECOND=yes');
      expect((await runtime.client.run('echo $FROM_SECOND')).output).toBe('yes\n');
      await second.client.close();
    });

    it('is listed', async () => {
      const listed = (await DockerRuntime.list()).find((r) => r.sessionId === sessionId);
      expect(listed).toEqual({
        backend: 'docker',
        id: runtime.containerId,
        sessionId,
        containerId: runtime.containerId,
        name: `runtime-client-${sessionId}`,
        image: expect.stringMatching(/^rc-injected\//),
        baseImage: BASE,
        mode: 'build',
        state: 'running',
        engineState: 'running',
        createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/),
        url: runtime.url,
      });
      // The handle's info is the same, as inspected when it was made.
      expect(runtime.info).toEqual(listed);
      const c = await inspectContainer(runtime.containerId);
      expect(Math.abs(Date.parse(listed!.createdAt!) - Date.parse(c.Created))).toBeLessThan(1000);
    });

    // Issue 11: `runtime-client stop` refused the container id that `ps` prints.
    it('is found by its container id, full or short, and by its container name', async () => {
      const short = runtime.containerId.slice(0, 12);
      for (const ref of [runtime.containerId, short, short.slice(0, 4), short.toUpperCase(), runtime.name, `/${runtime.name}`]) {
        const other = await DockerRuntime.attach(ref);
        expect(other, ref).toMatchObject({ sessionId, containerId: runtime.containerId, apiKey: runtime.apiKey });
        await other.client.close();
      }
      const tooShort = await rejection(DockerRuntime.attach(short.slice(0, 3)));
      expect(tooShort).toMatchObject({ code: 'not_found', data: { backend: 'docker', ref: short.slice(0, 3) } });
      expect(tooShort.message).toBe(`no runtime container has the session id, name or id ${short.slice(0, 3)}`);
    });

    it('finds no container that is not a runtime, whatever its name or id', async () => {
      const name = `rct-plain-${randomBytes(3).toString('hex')}`;
      const id = (await docker(['create', '--label', `${TEST_LABEL}=1`, '--name', name, BASE])).trim();
      try {
        for (const ref of [id, id.slice(0, 12), name]) expect((await rejection(getBackend('docker').stop(ref))).code).toBe('not_found');
        expect((await inspectContainer(id)).Id).toBe(id);
      } finally {
        await docker(['rm', '-f', id]);
      }
    });

    it('close() stops and removes the container; attach() then fails with code not_found', async () => {
      await runtime.close();
      expect(runtime.state).toBe('closed');
      await expect(docker(['inspect', runtime.containerId])).rejects.toThrow(/No such/i);
      expect((await rejection(runtime.client.run('echo gone'))).code).toBe('unavailable');
      await runtime.close(); // twice is fine
      const error = await rejection(DockerRuntime.attach(sessionId));
      expect(error.code).toBe('not_found');
      expect(error.message).toBe(`no runtime container has the session id, name or id ${sessionId}`);
      expect((await DockerRuntime.list()).some((r) => r.sessionId === sessionId)).toBe(false);
    });
  });

  it('applies cpu and memory limits, env and bind mounts; a stopped runtime is started again by attach()', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rc-mount-'));
    writeFileSync(join(dir, 'hello.txt'), 'from the host\n');
    const sessionId = newSessionId('limits');
    const runtime = await DockerRuntime.start({
      baseImage: BASE,
      sessionId,
      labels,
      cpus: 0.5,
      memoryMb: 256,
      env: { ...env, GREETING: 'hello world' },
      mounts: [{ source: dir, target: '/host', readOnly: true }],
    });
    try {
      const c = await inspectContainer(runtime.containerId);
      expect(c.HostConfig.NanoCpus).toBe(500_000_000);
      expect(c.HostConfig.Memory).toBe(256 * 1024 * 1024);
      expect(c.HostConfig.Mounts).toEqual([{ Type: 'bind', Source: dir, Target: '/host', ReadOnly: true }]);
      expect((await runtime.client.run('echo "$GREETING"; cat /host/hello.txt')).output).toBe('hello world\nfrom the host\n');
      expect((await runtime.client.run('touch /host/new 2>/dev/null')).exitCode).toBe(1);

      // As after a host restart: the container is stopped, the process holding the key is gone.
      await runtime.close({ remove: false });
      expect((await inspectContainer(runtime.containerId)).State.Status).toBe('exited');
      const again = await DockerRuntime.attach(sessionId);
      expect(again.containerId).toBe(runtime.containerId);
      const fresh = await again.client.run('pwd; echo "$GREETING"');
      expect(fresh).toMatchObject({ exitCode: 0, output: '/\nhello world\n' });
      await again.close();
      await expect(docker(['inspect', runtime.containerId])).rejects.toThrow(/No such/i);
    } finally {
      await runtime.close().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);

  it('starts in mount mode, with no build', async () => {
    const events: ProgressEvent[] = [];
    const runtime = await DockerRuntime.start({ baseImage: BASE, mode: 'mount', labels, env, onProgress: (e) => events.push(e) });
    try {
      expect(runtime.sessionId).toMatch(/^[0-9a-f]{12}$/);
      const c = await inspectContainer(runtime.containerId);
      expect(c.Config.Image).toBe(BASE);
      expect(c.Config.Healthcheck.Test).toEqual(['CMD', '/opt/runtime-client/bin/runtime-client', 'probe']);
      expect(events.find((e) => e.phase === 'build')?.message).toMatch(/^mount mode/);
      expect(await runtime.client.run('echo hi')).toMatchObject({ exitCode: 0, output: 'hi\n' });
      expect((await DockerRuntime.list()).find((r) => r.sessionId === runtime.sessionId)?.mode).toBe('mount');
    } finally {
      await runtime.close();
    }
  }, 300_000);

  it('refuses a session id already running, naming attach()', async () => {
    const sessionId = newSessionId('dup');
    const runtime = await DockerRuntime.start({ baseImage: BASE, sessionId, labels });
    try {
      const error = await rejection(DockerRuntime.start({ baseImage: BASE, sessionId, labels }));
      expect(error.code).toBe('docker');
      expect(error.message).toContain(`DockerRuntime.attach("${sessionId}")`);
    } finally {
      await runtime.close();
    }
  }, 300_000);

  it('removes a container whose server dies, with its last log lines in the error', async () => {
    const sessionId = newSessionId('dies');
    const error = await rejection(DockerRuntime.start({ baseImage: BASE, sessionId, labels, env: { MAX_OUTPUT_CHARS: 'lots' } }));
    expect(error.code).toBe('docker');
    expect(error.message).toMatch(/exited \(exit code [1-9]\d*\) before its server answered/);
    expect((error.data as { logs: string }).logs).toContain('MAX_OUTPUT_CHARS');
    expect((await DockerRuntime.list()).some((r) => r.sessionId === sessionId)).toBe(false);
  }, 300_000);

  it('removes a container whose server does not answer in time', async () => {
    const sessionId = newSessionId('slow');
    const error = await rejection(DockerRuntime.start({ baseImage: BASE, sessionId, labels, startupTimeoutMs: 1 }));
    expect(error.code).toBe('not_ready');
    expect((await DockerRuntime.list()).some((r) => r.sessionId === sessionId)).toBe(false);
  }, 300_000);
});
