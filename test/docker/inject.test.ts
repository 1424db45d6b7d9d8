// The promise of the product, on real images: the bundle injected by a built image and by a
// read-only mount runs on Debian, busybox-only, musl-only, shell-less and non-root images.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { buildInjectedImage } from '../../client/docker/build.js';
import { findBundle } from '../../dockerfiles/bundle.js';
import { docker } from '../../client/docker/docker-cli.js';
import { runContainer } from '../../client/docker/engine.js';
import { mountCreateBody } from '../../dockerfiles/mount.js';
import { freePort } from '../../client/docker/ports.js';
import { removeLabelled, requireEngine } from './engine.js';

const root = join(import.meta.dirname, '..', '..');
const KEY = 'docker-test-key';
const LABEL = 'dev.runtime-client.test';
const IMAGES = ['bookworm', 'busybox', 'musl', 'distroless', 'nonroot'] as const;
const MODES = ['built', 'mount'] as const;
const hasEngine = requireEngine();

interface Sandbox {
  name: string;
  port: number;
  image: string;
}
const sandboxes = new Map<string, Sandbox>();

async function run(port: number, command: string, args: Record<string, unknown> = {}, timeout?: number): Promise<any> {
  const res = await fetch(`http://127.0.0.1:${port}/execute_action`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-session-api-key': KEY },
    body: JSON.stringify({ action: { action: 'run', args: { command, ...args }, ...(timeout ? { timeout } : {}) } }),
  });
  expect(res.status).toBe(200);
  return res.json();
}

async function health(name: string): Promise<string> {
  return (await docker(['inspect', '--format', '{{if .State.Health}}{{.State.Health.Status}}{{end}}', name])).trim();
}

async function waitHealthy(name: string, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let status = '';
  while (Date.now() < deadline) {
    status = await health(name);
    if (status === 'healthy' || status === 'unhealthy') return status;
    await new Promise((r) => setTimeout(r, 250));
  }
  return status;
}

const env = (port: number) => [`RUNTIME_CLIENT_PORT=${port}`, `SESSION_API_KEY=${KEY}`, 'NO_CHANGE_TIMEOUT_SECONDS=1'];

describe.runIf(hasEngine)('injected into real images', () => {
  beforeAll(async () => {
    execFileSync('npm', ['run', 'bundle', '--silent'], { cwd: root, stdio: 'inherit' });
    execFileSync('bash', [join(root, 'test/images/build.sh')], { cwd: root, stdio: 'inherit' });
    await docker(['rm', '-f', ...(await docker(['ps', '-aq', '--filter', `label=${LABEL}`])).split('\n').filter(Boolean), 'rc-none']).catch(() => {});
    const bundle = findBundle();
    for (const image of IMAGES) {
      const base = `rc-test/${image}:1`;
      const built = await buildInjectedImage({ baseImage: base });
      for (const mode of MODES) {
        const port = await freePort();
        const name = `rc-e2e-${image}-${mode}`;
        if (mode === 'built') {
          await docker(['run', '-d', '--name', name, '--label', `${LABEL}=1`, '--network', 'host', ...env(port).flatMap((e) => ['-e', e]), built.image]);
        } else {
          const body = mountCreateBody({ baseImage: base, bundleDir: bundle.dir });
          (body.Env as string[]).splice(0, 1, ...env(port));
          body.Labels = { [LABEL]: '1' };
          (body.HostConfig as Record<string, unknown>).NetworkMode = 'host';
          await runContainer(body, name);
        }
        sandboxes.set(`${image}/${mode}`, { name, port, image });
      }
    }
  }, 900_000);

  afterAll(async () => {
    await removeLabelled(LABEL);
  });

  describe.concurrent.each(IMAGES.flatMap((image) => MODES.map((mode) => [image, mode] as const)))('%s, %s', (image, mode) => {
    it('becomes healthy, runs commands, reaps orphans and stops within 5 s', async () => {
      const { name, port } = sandboxes.get(`${image}/${mode}`)!;
      expect(await waitHealthy(name), `health of ${name}`).toBe('healthy');

      const hi = await run(port, 'echo hi');
      expect(hi.content).toBe('hi\n');
      expect(hi.extras.metadata.exit_code).toBe(0);
      expect((await run(port, '(exit 3)')).extras.metadata.exit_code).toBe(3);
      expect((await run(port, 'no-such-command-here')).extras.metadata.exit_code).toBe(127);

      await run(port, 'cd /tmp');
      const pwd = await run(port, 'pwd');
      expect(pwd.content).toBe('/tmp\n');
      expect(pwd.extras.metadata.working_dir).toBe('/tmp');

      const asking = await run(port, 'read -p "name? " n && echo "hello $n"');
      expect(asking.extras.metadata.exit_code).toBe(-1);
      expect(asking.content).toBe('name? ');
      const answered = await run(port, 'bob', { is_input: true });
      expect(answered.content).toContain('hello bob');
      expect(answered.extras.metadata.exit_code).toBe(0);

      const waiting = await run(port, 'read -r line', {}, 1);
      expect(waiting.extras.metadata.exit_code).toBe(-1);
      const interrupted = await run(port, 'C-c', { is_input: true });
      expect(interrupted.extras.metadata.exit_code).toBe(130);
      expect((await run(port, 'echo after')).content).toBe('after\n');

      // A double-forked orphan is re-parented to PID 1 (tini), which must reap it.
      await run(port, '( ( exit 0 ) & ); echo forked');
      await new Promise((r) => setTimeout(r, 1000));
      const scan = await run(
        port,
        // Fields after "(comm) ": state ppid ... A ppid of 0 is a process the runtime started from
        // outside the container (a health probe), reaped by the runtime, not by PID 1.
        'for f in /proc/[0-9]*/stat; do read -r l < "$f" 2>/dev/null || continue; s=(${l##*) }); [[ ${s[0]} == Z && ${s[1]} != 0 ]] && echo "zombie: $l"; done; echo scanned',
      );
      expect(scan.content).toBe('scanned\n');

      if (image === 'nonroot') {
        const who = await run(port, 'cd; echo "$USER $HOME $AGENT_MARKER"; cd - >/dev/null; echo $PWD', { session: 'who' });
        expect(who.content).toBe('agent /home/agent from-base-image\n/home/agent/project\n');
      }

      const started = Date.now();
      await docker(['stop', '--time', '10', name]);
      expect(Date.now() - started, 'docker stop duration').toBeLessThan(5000);
      const exitCode = (await docker(['inspect', '--format', '{{.State.ExitCode}}', name])).trim();
      expect(exitCode).toBe('0');
    }, 120_000);
  });
});

describe.runIf(hasEngine)('image builds', () => {
  it('reuses the image for the same base and bundle, and a base that already carries this version', async () => {
    const first = await buildInjectedImage({ baseImage: 'rc-test/busybox:1' });
    const again = await buildInjectedImage({ baseImage: 'rc-test/busybox:1' });
    expect(again).toMatchObject({ image: first.image, how: 'cached' });
    const onTop = await buildInjectedImage({ baseImage: first.image });
    expect(onTop).toMatchObject({ image: first.image, how: 'base' });
  }, 300_000);

  it.each(['legacy', 'buildkit'] as const)('builds with the %s builder', async (builder) => {
    const previous = process.env.DOCKER;
    // The engine package's own CLI has BuildKit built in; a newer CLI needs the buildx plugin.
    if (builder === 'buildkit' && !previous) process.env.DOCKER = '/usr/bin/docker';
    try {
      const tag = `rc-e2e/${builder}:1`;
      const result = await buildInjectedImage({ baseImage: 'rc-test/distroless:1', tag, force: true, builder });
      expect(result).toMatchObject({ image: tag, how: 'built' });
      const version = await docker(['run', '--rm', '--entrypoint', '/opt/runtime-client/bin/runtime-client', tag, '--version']);
      expect(version.trim()).toBe(findBundle().version);
    } finally {
      if (previous === undefined) delete process.env.DOCKER;
      else process.env.DOCKER = previous;
    }
  }, 300_000);
});
