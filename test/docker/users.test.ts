// The session user on real images, in mount mode: OpenHands' start command carries
// `--username openhands --user-id 1000 --working-dir /workspace`, and images mostly lack that user.
// The server creates it (and its home, and hands it /workspace), once: a restarted container adds
// no second passwd line. The same through POST /configure on a server started with --await-config
// (a warm sandbox), which `docker restart` brings back configured (the same user, environment
// and key, the state file unreadable by that user); on a read-only root file system it cannot be
// saved, /configure still works, and a restart comes back unconfigured. And on busybox, whose
// passwd has no such user and no bash.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findBundle } from '../../dockerfiles/bundle.js';
import { docker } from '../../client/docker/docker-cli.js';
import { runContainer } from '../../client/docker/engine.js';
import { mountCreateBody } from '../../dockerfiles/mount.js';
import { freePort } from '../../client/docker/ports.js';
import { prepareImages, removeLabelled, requireEngine } from './engine.js';

const KEY = 'users-test-start-key-0123456789abcdef';
const NEW_KEY = 'users-test-configured-key-0123456789abcdef';
const LABEL = 'dev.runtime-client.test-users';
const OPENHANDS = ['--username', 'openhands', '--user-id', '1000', '--working-dir', '/workspace'];
/** FROM scratch with one file: no /etc, no /home, no shell; built here, removed after. */
const SCRATCH = 'rc-test/users-scratch:1';
const hasEngine = requireEngine();

interface Box {
  name: string;
  port: number;
}

/** Starts `image` in mount mode with the server's extra `args`; resolves once it listens. */
async function start(image: string, name: string, args: string[], host: Record<string, unknown> = {}): Promise<Box> {
  const port = await freePort();
  const body = mountCreateBody({ baseImage: image.includes('/') ? image : `rc-test/${image}:1`, bundleDir: findBundle().dir });
  body.Cmd = [...(body.Cmd as string[]), ...args];
  body.Env = [`RUNTIME_CLIENT_PORT=${port}`, `SESSION_API_KEY=${KEY}`];
  body.Labels = { [LABEL]: '1' };
  Object.assign(body.HostConfig as Record<string, unknown>, { NetworkMode: 'host', ...host });
  await docker(['rm', '-f', name]).catch(() => {});
  await runContainer(body, name);
  await waitAlive({ name, port });
  return { name, port };
}

async function waitAlive(box: Box, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const res = await fetch(`http://127.0.0.1:${box.port}/alive`, { signal: AbortSignal.timeout(1000) }).catch(() => null);
    if (res?.status === 200) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${box.name} never answered /alive; its log:\n${await docker(['logs', '--tail', '30', box.name]).catch(() => '')}`);
}

async function run(box: Box, command: string, key = KEY): Promise<any> {
  const res = await fetch(`http://127.0.0.1:${box.port}/execute_action`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-session-api-key': key },
    body: JSON.stringify({ action: { action: 'run', args: { command } } }),
  });
  expect(res.status).toBe(200);
  return res.json();
}

/** Runs `command` as root in the container, outside the server (what the session user cannot fake). */
const inside = (box: Box, command: string) => docker(['exec', box.name, '/opt/runtime-client/bin/bash', '-c', command]);

describe.runIf(hasEngine)('the session user on real images (mount mode)', () => {
  beforeAll(async () => {
    prepareImages('bookworm', 'busybox');
    await removeLabelled(LABEL);
    const context = mkdtempSync(join(tmpdir(), 'rc-users-scratch-'));
    try {
      writeFileSync(join(context, 'hello.txt'), 'hello\n');
      writeFileSync(join(context, 'Dockerfile'), `FROM scratch\nCOPY hello.txt /hello.txt\nLABEL ${LABEL}=1\n`);
      await docker(['build', '--quiet', '--tag', SCRATCH, context], { ...process.env, DOCKER_BUILDKIT: '0' });
    } finally {
      rmSync(context, { recursive: true, force: true });
    }
  }, 900_000);

  afterAll(async () => {
    await removeLabelled(LABEL);
    await docker(['rmi', SCRATCH]).catch(() => {});
  });

  it('bookworm, OpenHands flags: the shells run as openhands (uid 1000), in /workspace, with their home; a restart adds no second line', async () => {
    const box = await start('bookworm', 'rc-users-bookworm', OPENHANDS);
    const obs = await run(box, 'id; echo "HOME=$HOME USER=$USER"; pwd; touch /workspace/x && ls -ln /workspace/x | cut -d" " -f3,4');
    const [id, env, pwd, owner] = obs.content.trim().split('\n');
    expect(id).toMatch(/^uid=1000\(openhands\) gid=1000\(openhands\)/);
    expect(env).toBe('HOME=/home/openhands USER=openhands');
    expect(pwd).toBe('/workspace');
    expect(owner).toBe('1000 1000');
    expect(obs.extras.metadata.username).toBe('openhands');
    expect((await run(box, 'touch ~/h && stat -c %u ~')).content.trim()).toBe('1000');
    expect(await inside(box, 'grep -c "^openhands:" /etc/passwd /etc/group /etc/shadow')).toBe('/etc/passwd:1\n/etc/group:1\n/etc/shadow:1\n');

    await docker(['restart', '-t', '5', box.name]);
    await waitAlive(box);
    expect((await run(box, 'id -un; pwd; ls /workspace')).content).toBe('openhands\n/workspace\nx\n');
    expect(await inside(box, 'grep -c "^openhands:" /etc/passwd /etc/group /etc/shadow')).toBe('/etc/passwd:1\n/etc/group:1\n/etc/shadow:1\n');
  });

  it('bookworm, --await-config: POST /configure creates the user and applies the environment, working dir and key', async () => {
    const box = await start('bookworm', 'rc-users-await', ['--await-config']);
    expect(await inside(box, 'grep -c "^openhands:" /etc/passwd || true')).toBe('0\n');
    const res = await fetch(`http://127.0.0.1:${box.port}/configure`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-session-api-key': KEY },
      body: JSON.stringify({ api_key: NEW_KEY, username: 'openhands', user_id: 1000, working_dir: '/workspace', environment: { RC_FROM_POOL: 'yes' } }),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await res.json()).toEqual({ status: 'ready' });
    const obs = await run(box, 'id -u; id -un; pwd; echo "$HOME $RC_FROM_POOL"; touch /workspace/y && echo wrote', NEW_KEY);
    expect(obs.content).toBe('1000\nopenhands\n/workspace\n/home/openhands yes\nwrote\n');
  });

  it('bookworm, --await-config: docker restart brings it back configured (same user, environment, working dir, key); the user cannot read the saved key', async () => {
    const box = await start('bookworm', 'rc-users-await-restart', ['--await-config']);
    const configure = (key: string) =>
      fetch(`http://127.0.0.1:${box.port}/configure`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-session-api-key': key },
        body: JSON.stringify({ api_key: NEW_KEY, username: 'openhands', user_id: 1000, working_dir: '/workspace', environment: { RC_FROM_POOL: 'kept' } }),
      });
    expect((await configure(KEY)).status).toBe(200);
    // The session user meets a root-only directory and file.
    const peek = await run(box, 'cat /run/runtime-client/configured.json; echo "cat=$?"; ls /run/runtime-client; echo "ls=$?"', NEW_KEY);
    expect(peek.content).toContain('Permission denied');
    expect(peek.content).toContain('cat=1');
    expect(peek.content).toContain('ls=2');
    expect(peek.content).not.toContain(NEW_KEY);
    expect(await inside(box, 'stat -c "%a %u" /run/runtime-client /run/runtime-client/configured.json')).toBe('700 0\n600 0\n');

    await docker(['restart', '-t', '5', box.name]);
    await waitAlive(box);
    const obs = await run(box, 'id -un; pwd; echo "$RC_FROM_POOL"; ls /workspace >/dev/null && echo listed', NEW_KEY);
    expect(obs.content).toBe('openhands\n/workspace\nkept\nlisted\n');
    const refused = await fetch(`http://127.0.0.1:${box.port}/execute_action`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-session-api-key': KEY },
      body: JSON.stringify({ action: { action: 'run', args: { command: 'true' } } }),
    });
    expect(refused.status).toBe(401);
    const again = await configure(NEW_KEY);
    expect(again.status).toBe(409);
    expect((await again.json()).error.code).toBe('already_configured');
    expect(await inside(box, 'grep -c "^openhands:" /etc/passwd')).toBe('1\n');
    const logs = await docker(['logs', box.name]);
    expect(logs).toContain('"restored":true');
    expect(logs).not.toContain(NEW_KEY);
  });

  it('bookworm, --await-config on a read-only root file system: /configure answers 200 and warns it could not save; a restart comes back unconfigured', async () => {
    const box = await start('bookworm', 'rc-users-await-readonly', ['--await-config'], { ReadonlyRootfs: true, Tmpfs: { '/tmp': 'mode=1777' } });
    const configure = (key: string, apiKey: string) =>
      fetch(`http://127.0.0.1:${box.port}/configure`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-session-api-key': key },
        body: JSON.stringify({ api_key: apiKey, working_dir: '/tmp', environment: { RC_FROM_POOL: 'ro' } }),
      });
    expect((await configure(KEY, NEW_KEY)).status).toBe(200);
    expect((await run(box, 'echo "$RC_FROM_POOL"; pwd', NEW_KEY)).content).toBe('ro\n/tmp\n');
    const logs = await docker(['logs', box.name]);
    expect(logs).toContain('the configuration could not be saved (cannot make /run/runtime-client (EROFS)): a restart of this server will come back unconfigured');

    await docker(['restart', '-t', '5', box.name]);
    await waitAlive(box);
    const info = await fetch(`http://127.0.0.1:${box.port}/server_info`, { headers: { 'x-session-api-key': NEW_KEY } });
    expect(info.status).toBe(503);
    expect((await info.json()).error.code).toBe('not_configured');
    expect((await configure(KEY, NEW_KEY)).status).toBe(200);
  });

  it('bookworm, --await-config with the OpenHands flags: the user is made at start, and a /configure without user fields runs as it', async () => {
    const box = await start('bookworm', 'rc-users-await-flags', [...OPENHANDS, '--await-config']);
    expect(await inside(box, 'grep -c "^openhands:" /etc/passwd')).toBe('1\n');
    const res = await fetch(`http://127.0.0.1:${box.port}/configure`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-session-api-key': KEY },
      body: JSON.stringify({ api_key: NEW_KEY, environment: { RC_FROM_POOL: 'flags' } }),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    expect((await run(box, 'id -un; pwd; echo "$RC_FROM_POOL"', NEW_KEY)).content).toBe('openhands\n/workspace\nflags\n');
    expect(await inside(box, 'grep -c "^openhands:" /etc/passwd')).toBe('1\n');
  });

  it('a bad user through /configure is a 400 naming the field, and the server still waits', async () => {
    const box = await start('bookworm', 'rc-users-await-bad', ['--await-config']);
    const configure = (body: unknown) =>
      fetch(`http://127.0.0.1:${box.port}/configure`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-session-api-key': KEY }, body: JSON.stringify(body) });
    const bad = await configure({ api_key: NEW_KEY, username: 'Open Hands', user_id: 1000 });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.details.issues[0].path).toBe('username');
    const missing = await configure({ api_key: NEW_KEY, username: 'nobody-here' });
    expect(missing.status).toBe(400);
    expect((await missing.json()).error.message).toContain('user_id N creates it');
    expect((await configure({ api_key: NEW_KEY, username: 'openhands', user_id: 1000, working_dir: '/workspace' })).status).toBe(200);
    expect((await run(box, 'id -un', NEW_KEY)).content).toBe('openhands\n');
  });

  it('bookworm with /etc/passwd planted as a symbolic link: the server exits 1 saying so, and the link target is untouched', async () => {
    const name = 'rc-users-planted';
    const body = mountCreateBody({ baseImage: 'rc-test/bookworm:1', bundleDir: findBundle().dir });
    // The image's own start plants the link, then runs the server as OpenHands would.
    body.Entrypoint = ['/bin/bash', '-c', 'cp /etc/passwd /etc/passwd.real && ln -sf /etc/passwd.real /etc/passwd && exec /opt/runtime-client/bin/runtime-client "$@" 2>&1', 'sh', ...OPENHANDS];
    body.Cmd = [];
    body.Env = [`RUNTIME_CLIENT_PORT=${await freePort()}`, `SESSION_API_KEY=${KEY}`];
    body.Labels = { [LABEL]: '1' };
    delete body.Healthcheck;
    await docker(['rm', '-f', name]).catch(() => {});
    await runContainer(body, name);
    const status = await docker(['wait', name]);
    expect(status.trim()).toBe('1');
    expect(await docker(['logs', name])).toContain('/etc/passwd is a symbolic link: refusing to follow it as root');
    const real = await docker(['cp', `${name}:/etc/passwd.real`, '-']);
    expect(real).not.toContain('openhands');
    expect(real).toContain('root:x:0:0');
  });

  it('busybox (no bash, no such user): the same flags work, with /bin/sh as its login shell', async () => {
    const box = await start('busybox', 'rc-users-busybox', OPENHANDS);
    const obs = await run(box, 'id; echo "HOME=$HOME"; pwd; touch /workspace/x && echo wrote');
    const [id, home, pwd, wrote] = obs.content.trim().split('\n');
    expect(id).toMatch(/^uid=1000\(openhands\) gid=1000\(openhands\)/);
    expect(home).toBe('HOME=/home/openhands');
    expect(pwd).toBe('/workspace');
    expect(wrote).toBe('wrote');
    expect(await inside(box, 'while IFS= read -r l; do [[ $l == openhands:* ]] && echo "$l"; done < /etc/passwd')).toBe('openhands:x:1000:1000::/home/openhands:/bin/sh\n');
  });

  it('FROM scratch (no /etc at all): the server writes passwd and group with root first, and the user works', async () => {
    const box = await start(SCRATCH, 'rc-users-scratch', OPENHANDS);
    // The image has no programs: bash builtins only.
    const obs = await run(box, 'echo "$UID $EUID $HOME $USER"; pwd; echo x > /workspace/f && echo wrote; while IFS= read -r l; do echo "$l"; done < /etc/passwd');
    expect(obs.content).toBe(
      '1000 1000 /home/openhands openhands\n/workspace\nwrote\n' +
        'root:x:0:0:root:/root:/opt/runtime-client/bin/bash\nopenhands:x:1000:1000::/home/openhands:/opt/runtime-client/bin/bash\n',
    );
  });
});
