// Issue 10, item 12 (and item 4 inside a container): an image built FROM scratch with one file
// (no /tmp, no /etc/passwd, no shell) runs the server in built and in mount mode, also with a
// read-only root file system; the log says where the runtime files went; and no process the
// session can see (tini included) holds the API key in its environment.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildInjectedImage } from '../../client/docker/build.js';
import { findBundle } from '../../dockerfiles/bundle.js';
import { docker } from '../../client/docker/docker-cli.js';
import { runContainer } from '../../client/docker/engine.js';
import { mountCreateBody } from '../../dockerfiles/mount.js';
import { freePort } from '../../client/docker/ports.js';
import { removeLabelled, requireEngine, waitHealthy } from './engine.js';

const root = join(import.meta.dirname, '..', '..');
const KEY = 'scratch-test-key-5cf1';
const LABEL = 'dev.runtime-client.test-scratch';
const BASE = 'rc-test/scratch-one-file:1';
const hasEngine = requireEngine();
/**
 * Yama (kernel.yama.ptrace_scope >= 1, Ubuntu's default) lets no process write its parent's
 * memory without CAP_SYS_PTRACE, which containers lack: there the server cannot scrub tini, and
 * must say so. The containers share this kernel.
 */
const yamaScope = (() => {
  try {
    return Number(readFileSync('/proc/sys/kernel/yama/ptrace_scope', 'utf8'));
  } catch {
    return 0;
  }
})();

/** How each container is run, and where its runtime files must go. */
const CASES = [
  { mode: 'built', readOnly: false, dir: /^\/tmp\/runtime-client-\w{6}$/, created: '/tmp' },
  { mode: 'mount', readOnly: false, dir: /^\/tmp\/runtime-client-\w{6}$/, created: '/tmp' },
  // No /tmp and none can be made: Docker's /dev/shm (a tmpfs) is the one writable place.
  { mode: 'mount', readOnly: true, dir: /^\/dev\/shm\/runtime-client-\w{6}$/, created: undefined },
] as const;
const nameOf = (c: (typeof CASES)[number]) => `rc-scratch-${c.mode}${c.readOnly ? '-ro' : ''}`;

const ports = new Map<string, number>();
let injected: string | undefined;

async function run(port: number, command: string): Promise<any> {
  const res = await fetch(`http://127.0.0.1:${port}/execute_action`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-session-api-key': KEY },
    body: JSON.stringify({ action: { action: 'run', args: { command } } }),
  });
  expect(res.status).toBe(200);
  return res.json();
}

async function removeContainers(): Promise<void> {
  await removeLabelled(LABEL);
}

// Every /proc/N/environ holding SESSION_API_KEY, with bash alone (the image has no tr, no grep).
// Processes with parent 0 other than PID 1 come from outside (`docker exec`: the health probe),
// and get the container's configured environment, key included: not the server's doing.
const SCAN = [
  'for f in /proc/[0-9]*/environ; do',
  '  p=${f#/proc/}; p=${p%/environ}; read -r l < /proc/$p/stat 2>/dev/null || continue; s=(${l##*) })',
  '  [[ $p != 1 && ${s[1]} == 0 ]] && continue',
  `  while IFS= read -r -d '' e; do [[ $e == SESSION_API_KEY=* ]] && echo "key in $f"; done 2>/dev/null < "$f"`, // 2> first: a process gone by now is no error
  'done; echo "tini: $(wc=0; while IFS= read -r -d \'\' e; do ((wc++)); done </proc/1/environ; echo $wc) entries"; echo scanned',
].join('\n');

describe.runIf(hasEngine)('FROM scratch with one file', () => {
  beforeAll(async () => {
    execFileSync('npm', ['run', 'bundle', '--silent'], { cwd: root, stdio: 'inherit' });
    await removeContainers();
    const context = mkdtempSync(join(tmpdir(), 'rc-scratch-'));
    try {
      writeFileSync(join(context, 'hello.txt'), 'hello\n');
      writeFileSync(join(context, 'Dockerfile'), 'FROM scratch\nCOPY hello.txt /hello.txt\n');
      await docker(['build', '--quiet', '--tag', BASE, context], { ...process.env, DOCKER_BUILDKIT: '0' });
    } finally {
      rmSync(context, { recursive: true, force: true });
    }
    const bundle = findBundle();
    injected = (await buildInjectedImage({ baseImage: BASE, force: true })).image;
    const env = (port: number) => [`RUNTIME_CLIENT_PORT=${port}`, `SESSION_API_KEY=${KEY}`];
    for (const c of CASES) {
      const port = await freePort();
      const name = nameOf(c);
      if (c.mode === 'built') {
        await docker(['run', '-d', '--name', name, '--label', `${LABEL}=1`, '--network', 'host', ...env(port).flatMap((e) => ['-e', e]), injected]);
      } else {
        const body = mountCreateBody({ baseImage: BASE, bundleDir: bundle.dir });
        body.Env = env(port);
        body.Labels = { [LABEL]: '1' };
        Object.assign(body.HostConfig as Record<string, unknown>, { NetworkMode: 'host', ReadonlyRootfs: c.readOnly });
        await runContainer(body, name);
      }
      ports.set(name, port);
    }
  }, 900_000);

  afterAll(async () => {
    await removeContainers();
    await docker(['rmi', ...(injected ? [injected] : []), BASE]).catch(() => {});
  });

  it('the image has no /tmp, no /etc/passwd and one file', async () => {
    const listing = await docker(['export', (await docker(['create', '--label', `${LABEL}=1`, BASE, 'none'])).trim()]).catch((e) => String(e));
    // `docker export` streams the tarball as text here: entry names are enough.
    expect(listing).toContain('hello.txt');
    expect(listing).not.toContain('tmp/');
    expect(listing).not.toContain('passwd');
  });

  describe.concurrent.each(CASES.map((c) => [nameOf(c), c] as const))('%s', (name, c) => {
    it('becomes healthy, runs a command, logs its runtime dir and leaves the key nowhere', async () => {
      const port = ports.get(name)!;
      const health = await waitHealthy(name);
      const logs = (await docker(['logs', name])).split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
      expect(health, `health of ${name}; logs:\n${logs.map((l) => JSON.stringify(l)).join('\n')}`).toBe('healthy');

      const where = logs.filter((l) => l.msg === 'runtime files');
      expect(where).toHaveLength(1);
      expect(where[0].dir).toMatch(c.dir);
      expect(where[0].created).toBe(c.created);

      const hi = await run(port, 'echo hi; echo "$(</hello.txt)"; echo "HOME=$HOME"');
      expect(hi.extras.metadata.exit_code).toBe(0);
      expect(hi.content).toMatch(/^hi\nhello\nHOME=\S*\n$/);
      const dir = await run(port, `[[ -d ${where[0].dir} && ! -e /etc/passwd ]] && echo there`);
      expect(dir.content).toBe('there\n');

      const scan = (await run(port, SCAN)).content as string;
      const warnings = logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('could not remove')).map((l) => l.msg);
      expect(scan).toMatch(/^(key in \/proc\/1\/environ\n)?tini: [1-9]\d* entries\nscanned\n$/);
      if (yamaScope === 0) {
        expect(scan).not.toContain('key in');
        expect(warnings).toEqual([]);
      } else {
        // The server's own environ is clean whatever Yama says; tini's is clean, or the log says it is not.
        expect(warnings).toEqual(scan.includes('key in') ? [expect.stringMatching(/^could not remove SESSION_API_KEY from the environment of tini \(\/proc\/1\/environ: (EACCES|EPERM)\)/)] : []);
      }
    }, 120_000);
  });
});
