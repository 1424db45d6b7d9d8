// `runtime-client dockerfile | build | docker-args | run | ps | stop` from the built CLI: each
// command's own --help and usage errors, and (with an engine) the papercuts of issue 11: a
// --context that `docker build` builds as is, one tag for `build` and DockerRuntime.start, and
// `stop` taking the container id that `ps` prints.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerRuntime } from '../../client/docker/index.js';
import type { ProgressEvent } from '../../client/backends/backend.js';
import { docker } from '../../client/docker/docker-cli.js';
import { freePort } from '../../client/docker/ports.js';
import { HOST_CLI } from '../helpers/server.js';
import { prepareImages, removeLabelled, requireEngine } from '../docker/engine.js';

const root = join(import.meta.dirname, '..', '..');

function cli(args: string[], timeoutMs = 300_000): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [HOST_CLI, ...args], { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, out, err) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, out, err });
    });
  });
}

/** Each command and every flag it takes; its --help must list them all with their defaults. */
const FLAGS: Record<string, string[]> = {
  dockerfile: ['--base-image IMG', '--port N', '--user USER', '--workdir DIR', '--bundle DIR', '--context DIR', '-h, --help'],
  build: ['--base-image IMG', '--tag TAG', '--force', '--port N', '--user USER', '--workdir DIR', '--bundle DIR', '-h, --help'],
  'docker-args': ['--base-image IMG', '--port N', '--user USER', '--bundle DIR', '--json', '-h, --help'],
  run: ['--base-image IMG', '--session-id ID', '--mode build|mount', '-e, --env KEY=VALUE', '-h, --help'],
  ps: ['--json', '-q, --quiet', '-h, --help'],
  stop: ['--keep', '-h, --help'],
};

describe('each command has its own --help and usage errors', () => {
  it.each(Object.keys(FLAGS))('%s --help lists every flag it takes, with its default', async (name) => {
    const global = (await cli(['--help'])).out;
    for (const help of ['--help', '-h']) {
      const r = await cli([name, help]);
      expect(r).toMatchObject({ code: 0, err: '' });
      expect(r.out).not.toBe(global);
      expect(r.out.split('\n')[0]).toMatch(new RegExp(`^Usage: runtime-client ${name} `));
      // One line per flag: the flag, then what it does and (but for --help) its default or "required".
      const lines = r.out.split('\n').filter((l) => /^ {2}-/.test(l));
      expect(lines.map((l) => l.trim().split(/ {2,}/)[0])).toEqual(FLAGS[name]);
      for (const flag of FLAGS[name].filter((f) => f !== '-h, --help')) {
        const entry = r.out.slice(r.out.indexOf(`  ${flag}`)).split(/\n {2}-/)[0];
        expect(entry, `${name} ${flag}`).toMatch(/\(default|\(required\)/);
      }
    }
  });

  it.each([
    ['dockerfile', ['--base-image', 'img', '--tag', 't'], 'unknown flag --tag'],
    ['build', ['--base-image', 'img', '--context', '/tmp/x'], 'unknown flag --context'],
    ['docker-args', ['--base-image', 'img', '--workdir', '/w'], 'unknown flag --workdir'],
    ['run', ['--base-image', 'img', '--bogus'], 'unknown flag --bogus'],
    ['ps', ['-x'], 'unknown flag -x'],
    ['stop', ['--force', 'abc'], 'unknown flag --force'],
    ['build', ['--base-image'], '--base-image needs a value'],
    ['dockerfile', [], 'dockerfile needs --base-image IMG'],
    ['docker-args', ['--base-image', 'img', 'extra'], 'unexpected argument "extra": this command takes flags only'],
    ['dockerfile', ['--base-image', 'img', '--port', '70000'], '--port must be an integer from 0 to 65535, got "70000"'],
    ['stop', [], 'stop needs at least one session id, container id or name (see runtime-client ps)'],
    ['run', ['--base-image', 'img', '--mode', 'copy'], '--mode must be build or mount, got "copy"'],
  ])('%s %j exits 2 with a usage sentence', async (name, args, why) => {
    const r = await cli([name, ...args]);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    const [first, synopsis, hint] = r.err.split('\n');
    expect(first).toBe(`runtime-client ${name}: ${why}`);
    expect(synopsis).toMatch(new RegExp(`^Usage: runtime-client ${name} `));
    expect(hint).toBe(`Try 'runtime-client ${name} --help'.`);
  });

  it('dockerfile says in its header what the build context must hold, naming the bundle', async () => {
    const r = await cli(['dockerfile', '--base-image', 'img:1']);
    expect(r.code).toBe(0);
    const manifest = join(root, 'dist', 'runtime-client');
    expect(r.out).toContain(`#   runtime-client/   a copy of the runtime-client bundle (${manifest}), the directory holding manifest.json`);
    expect(r.out).toContain('#   empty/            an empty directory');
    expect(r.out).toContain('# `runtime-client dockerfile --base-image img:1 --context DIR` writes such a directory; then `docker build DIR`.');
  });

  it('dockerfile --context refuses a directory that is not empty, and writes nothing there', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rc-context-'));
    writeFileSync(join(dir, 'keep.txt'), 'mine\n');
    try {
      const r = await cli(['dockerfile', '--base-image', 'img:1', '--context', dir]);
      expect(r.code).toBe(2);
      expect(r.err.split('\n')[0]).toBe(`runtime-client dockerfile: --context: the context directory ${dir} is not empty: give a new or empty directory`);
      expect(readdirSync(dir)).toEqual(['keep.txt']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const hasEngine = requireEngine();
const BASE = 'rc-test/busybox:1';
const LABEL = 'test.runtime-client.docker-commands';

describe.runIf(hasEngine)('with a Docker engine', () => {
  const images: string[] = [];
  const scratch = mkdtempSync(join(tmpdir(), 'rc-docker-commands-'));

  beforeAll(() => {
    prepareImages('busybox');
  }, 900_000);

  afterAll(async () => {
    await removeLabelled(LABEL);
    for (const image of images.reverse()) await docker(['rmi', image]).catch(() => {});
    rmSync(scratch, { recursive: true, force: true });
  });

  /** A name of its own for the busybox image, so that nothing is built or cached for it yet. */
  async function freshBase(what: string): Promise<string> {
    const name = `rc-test/${what}-${randomBytes(4).toString('hex')}:1`;
    await docker(['tag', BASE, name]);
    images.push(name);
    return name;
  }

  it('dockerfile --context DIR writes a context that a plain `docker build DIR` builds; the image serves', async () => {
    const base = await freshBase('context');
    const dir = join(scratch, 'context', 'nested'); // made with its parents
    const r = await cli(['dockerfile', '--base-image', base, '--context', dir, '--workdir', '/work']);
    expect(r.code).toBe(0);
    expect(r.out).toBe(`${dir}\n`);
    expect(r.err).toContain(`docker build ${dir}`);
    expect(readdirSync(dir).sort()).toEqual(['Dockerfile', 'empty', 'runtime-client']);
    expect(readdirSync(join(dir, 'empty'))).toEqual([]);
    expect(JSON.parse(readFileSync(join(dir, 'runtime-client', 'manifest.json'), 'utf8')).digest).toBe(
      JSON.parse(readFileSync(join(root, 'dist', 'runtime-client', 'manifest.json'), 'utf8')).digest,
    );

    const tag = `rc-e2e/context-${randomBytes(4).toString('hex')}:1`;
    images.push(tag);
    // The plainest build there is: the docker CLI, the directory, nothing else.
    await docker(['build', '--quiet', '--tag', tag, dir]);
    const port = await freePort();
    await docker(['run', '-d', '--label', `${LABEL}=1`, '--network', 'host', '-e', `RUNTIME_CLIENT_PORT=${port}`, '-e', 'SESSION_API_KEY=k', tag]);
    const deadline = Date.now() + 30_000;
    let status = 0;
    while (Date.now() < deadline && status !== 200) {
      status = (await fetch(`http://127.0.0.1:${port}/alive`).catch(() => null))?.status ?? 0;
      if (status !== 200) await new Promise((r) => setTimeout(r, 200));
    }
    expect(status).toBe(200);
    const res = await fetch(`http://127.0.0.1:${port}/execute_action`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-session-api-key': 'k' },
      body: JSON.stringify({ action: { action: 'run', args: { command: 'pwd' } } }),
    });
    expect((await res.json()).content).toBe('/work\n');
  }, 300_000);

  // Issue 11: `build` passed --port's default, DockerRuntime.start passed nothing, and the tags
  // differed: the same image was built twice under two names.
  it('build, then DockerRuntime.start in build mode: one tag, one build', async () => {
    const base = await freshBase('tag');
    const built = await cli(['build', '--base-image', base]);
    expect(built.code).toBe(0);
    const tag = built.out.trim();
    images.push(tag);
    expect(tag).toMatch(/^rc-injected\/rc-test-tag-[0-9a-f]{8}-1:[0-9a-f]{16}$/);
    expect(built.err).toMatch(/^built in /m);

    const events: ProgressEvent[] = [];
    const runtime = await DockerRuntime.start({ baseImage: base, labels: { [LABEL]: '1' }, onProgress: (e) => events.push(e) });
    try {
      const lines = events.filter((e) => e.phase === 'build').map((e) => e.message);
      expect(lines).toContain(`${tag} is already built`);
      expect(lines.some((l) => l.startsWith('building '))).toBe(false);
      expect(runtime.info.image).toBe(tag);
    } finally {
      await runtime.close();
    }
    expect(await cli(['build', '--base-image', base, '--port', '60000'])).toMatchObject({ code: 0, out: `${tag}\n`, err: expect.stringMatching(/is already built/) });
  }, 300_000);

  // Issue 11: `stop` refused the container id that `ps` prints.
  it('stop takes the container id ps prints (short or full), the container name and the session id', async () => {
    const runtimes = await Promise.all([0, 1, 2, 3, 4].map(() => DockerRuntime.start({ baseImage: BASE, mode: 'mount', labels: { [LABEL]: '1' } })));
    try {
      const ps = await cli(['ps']);
      expect(ps.code).toBe(0);
      const shortOf = (sessionId: string) => new RegExp(`^${sessionId}\\s+([0-9a-f]{12})\\s`, 'm').exec(ps.out)![1]!;
      const json = JSON.parse((await cli(['ps', '--json'])).out) as { sessionId: string; id: string; containerId: string }[];
      const fullOf = (sessionId: string) => json.find((r) => r.sessionId === sessionId)!.id;
      const [a, b, c, d, e] = runtimes.map((r) => r.sessionId);

      const refs = [shortOf(a!), fullOf(b!), `runtime-client-${c}`, d!];
      const stop = await cli(['stop', ...refs]);
      expect(stop).toMatchObject({ code: 0, out: refs.map((r) => `${r}\n`).join(''), err: '' });
      const left = (await DockerRuntime.list()).map((r) => r.sessionId);
      for (const gone of [a, b, c, d]) expect(left).not.toContain(gone);

      const kept = await cli(['stop', '--keep', shortOf(e!)]);
      expect(kept.code).toBe(0);
      expect((await cli(['ps'])).out).toMatch(new RegExp(`^${e}\\s+${shortOf(e!)}\\s+${BASE}\\s+mount\\s+exited\\s+-$`, 'm'));

      const missing = await cli(['stop', 'abc123def456', shortOf(e!)]);
      expect(missing.code).toBe(1);
      expect(missing.out).toBe(`${shortOf(e!)}\n`);
      expect(missing.err).toBe('runtime-client: cannot stop abc123def456: no runtime container has the session id, name or id abc123def456\n');
      expect((await DockerRuntime.list()).map((r) => r.sessionId)).not.toContain(e);
    } finally {
      await Promise.all(runtimes.map((r) => r.close().catch(() => {})));
    }
  }, 300_000);
});
