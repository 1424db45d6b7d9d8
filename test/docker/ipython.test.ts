// Issue 12, "IPython cells", on the image matrix: run_ipython in containers started in mount mode
// (the bundle bind-mounted, nothing built or installed). rc-test/python:1 has Debian's python3
// and venv only (the driver's plain-Python mode); rc-test/pydata:1 adds Debian's IPython,
// matplotlib and pip; rc-test/busybox:1 has no Python at all and must get a clean error.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { findBundle } from '../../dockerfiles/bundle.js';
import { docker } from '../../client/docker/docker-cli.js';
import { runContainer } from '../../client/docker/engine.js';
import { mountCreateBody } from '../../dockerfiles/mount.js';
import { freePort } from '../../client/docker/ports.js';
import { removeLabelled, requireEngine, waitHealthy } from './engine.js';

const root = join(import.meta.dirname, '..', '..');
const KEY = 'ipython-test-key-77c2';
const LABEL = 'dev.runtime-client.test-ipython';
const hasEngine = requireEngine();

/** The containers: image, and who the server and its shells run as. */
const CONTAINERS = {
  python: { image: 'rc-test/python:1' },
  // `docker run --user 1000:1000`: the server and the session are agent (the image has the user).
  pythonUser: { image: 'rc-test/python:1', containerUser: '1000:1000' },
  // A root server whose shells run as agent (--username): the interpreter must switch user too.
  pythonUsername: { image: 'rc-test/python:1', username: 'agent' },
  pydata: { image: 'rc-test/pydata:1' },
  busybox: { image: 'rc-test/busybox:1' },
} as const satisfies Record<string, { image: string; containerUser?: string; username?: string }>;
type Box = keyof typeof CONTAINERS;

const ports = new Map<Box, number>();
const nameOf = (box: Box) => `rc-ipython-${box.toLowerCase()}`;

async function execute(box: Box, action: Record<string, unknown>): Promise<any> {
  const res = await fetch(`http://127.0.0.1:${ports.get(box)}/execute_action`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-session-api-key': KEY },
    body: JSON.stringify({ action }),
  });
  const body = await res.json();
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body;
}

/**
 * A run_ipython action; `timeout` is the hard timeout in seconds. Blocking unless args say not:
 * on two busy cores a quick cell may be quiet for longer than the 2 s soft timeout.
 */
function cell(box: Box, code: string, args: Record<string, unknown> = {}, timeout?: number): Promise<any> {
  return execute(box, { action: 'run_ipython', args: { code, blocking: true, ...args }, ...(timeout ? { timeout } : {}) });
}

function run(box: Box, command: string, args: Record<string, unknown> = {}, timeout?: number): Promise<any> {
  return execute(box, { action: 'run', args: { command, ...args }, ...(timeout ? { timeout } : {}) });
}

/** content without the two lines include_extra appends, and those lines' values. */
function split(content: string): { text: string; cwd: string | undefined; python: string | undefined } {
  const m = /\n?\[Jupyter current working directory: (.*)\]\n\[Jupyter Python interpreter: (.*)\]$/.exec(content);
  return m ? { text: content.slice(0, m.index), cwd: m[1], python: m[2] } : { text: content, cwd: undefined, python: undefined };
}

/** What `docker diff` says changed in the container's file system, one `C /path` per line. */
async function changes(box: Box): Promise<string[]> {
  return (await docker(['diff', nameOf(box)])).split('\n').filter(Boolean).sort();
}

/** Width and height from a PNG's IHDR chunk. */
function pngSize(png: Buffer): { width: number; height: number } {
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

describe.runIf(hasEngine)('run_ipython on real images (mount mode)', () => {
  beforeAll(async () => {
    // The bundle must carry bin/ipython-driver.py: always rebuilt, as the other Docker tests do.
    execFileSync('npm', ['run', 'bundle', '--silent'], { cwd: root, stdio: 'inherit' });
    execFileSync('bash', [join(root, 'test/images/build.sh'), 'python', 'pydata', 'busybox'], { cwd: root, stdio: 'inherit' });
    await removeLabelled(LABEL);
    const bundle = findBundle();
    for (const [box, c] of Object.entries(CONTAINERS) as [Box, (typeof CONTAINERS)[Box]][]) {
      const port = await freePort();
      const body = mountCreateBody({ baseImage: c.image, bundleDir: bundle.dir, ...('username' in c ? { user: c.username } : {}) });
      // NO_CHANGE_TIMEOUT_SECONDS=2: a quiet cell returns (still running) after 2 s.
      body.Env = [`RUNTIME_CLIENT_PORT=${port}`, `SESSION_API_KEY=${KEY}`, 'NO_CHANGE_TIMEOUT_SECONDS=2'];
      body.Labels = { [LABEL]: '1' };
      if ('containerUser' in c) body.User = c.containerUser;
      (body.HostConfig as Record<string, unknown>).NetworkMode = 'host';
      await runContainer(body, nameOf(box));
      ports.set(box, port);
    }
    await Promise.all(
      Object.keys(CONTAINERS).map(async (box) => {
        const name = nameOf(box as Box);
        const health = await waitHealthy(name);
        if (health !== 'healthy') throw new Error(`${name} is ${health || 'not healthy'}; its log:\n${await docker(['logs', name]).catch(String)}`);
      }),
    );
  }, 900_000);

  afterAll(async () => {
    await removeLabelled(LABEL);
  });

  describe.concurrent('rc-test/python:1 (plain Python)', () => {
    it("shows the last expression's value, keeps variables, and names the interpreter", async () => {
      const first = await cell('python', '1+1');
      expect(first).toMatchObject({ observation: 'run_ipython', extras: { code: '1+1', image_urls: null }, success: true, meta: { still_running: false, refused: false, exception: null } });
      expect(first.content.startsWith('2\n')).toBe(true);
      expect(first.meta.python).toMatch(/^\/usr\/bin\/python3(\.\d+)?$/);
      expect(split(first.content)).toEqual({ text: '2', cwd: expect.stringMatching(/^\//), python: first.meta.python });

      expect(split((await cell('python', 'kept = {"a": 41}\nimport math')).content).text).toBe('[Code executed successfully with no output]');
      expect(split((await cell('python', 'kept["a"] + 1')).content).text).toBe('42');
      expect(split((await cell('python', 'print(math.sqrt(16)); kept')).content).text).toBe("4.0\n{'a': 41}");
    }, 60_000);

    it('gives a traceback as content, names the exception in meta, and keeps the interpreter', async () => {
      await cell('python', 'survivor = "still here"', { session: 'tb' });
      const obs = await cell('python', 'def f():\n    return 1 / 0\nf()', { session: 'tb' });
      expect(obs.observation).toBe('run_ipython');
      expect(obs.success).toBe(false);
      expect(obs.meta.exception).toBe('ZeroDivisionError');
      const { text } = split(obs.content);
      expect(text).toContain('Traceback');
      expect(text).toContain('return 1 / 0');
      expect(text).toMatch(/ZeroDivisionError: division by zero$/);
      expect(split((await cell('python', 'survivor', { session: 'tb' })).content).text).toBe("'still here'");
    }, 60_000);

    it("runs in the bash session's cwd after a `cd` in a run action", async () => {
      const moved = await run('python', 'mkdir -p /tmp/cells/here && cd /tmp/cells/here && pwd', { session: 'cwd' });
      expect(moved.content).toBe('/tmp/cells/here\n');
      const obs = await cell('python', 'import os\nopen("made-by-cell.txt", "w").write("x")\nos.getcwd()', { session: 'cwd' });
      expect(split(obs.content)).toMatchObject({ text: "'/tmp/cells/here'", cwd: '/tmp/cells/here' });
      expect((await run('python', 'ls', { session: 'cwd' })).content).toBe('made-by-cell.txt\n');
      await run('python', 'cd /', { session: 'cwd' });
      expect(split((await cell('python', 'os.getcwd()', { session: 'cwd' })).content).text).toBe("'/'");
    }, 60_000);

    it('runs in the virtualenv the session activated before its first cell', async () => {
      const made = await run('python', 'python3 -m venv /tmp/v && . /tmp/v/bin/activate && echo "made $VIRTUAL_ENV"', { session: 'venv', blocking: true }, 120);
      expect(made.content).toContain('made /tmp/v');
      expect(made.extras.metadata.exit_code).toBe(0);
      const obs = await cell('python', 'import sys\nsys.prefix, sys.base_prefix', { session: 'venv' });
      expect(split(obs.content).text).toBe("('/tmp/v', '/usr')");
      expect(obs.meta.python).toMatch(/^\/tmp\/v\/bin\/python3?(\.\d+)?$/);
      expect(split(obs.content).python).toBe(obs.meta.python);
      // Another session, without the venv, has the image's python.
      expect((await cell('python', 'import sys; sys.prefix', { session: 'novenv' })).meta.python).toMatch(/^\/usr\/bin\/python3/);
    }, 180_000);

    it('interrupts time.sleep(30) with C-c (KeyboardInterrupt), and the interpreter keeps its variables', async () => {
      await cell('python', 'kept_through = 7', { session: 'intr' });
      const started = Date.now();
      const sleeping = await cell('python', 'import time\nprint("going to sleep", flush=True)\ntime.sleep(30)\nprint("woke up")', { session: 'intr', blocking: false });
      expect(sleeping.meta).toMatchObject({ still_running: true, refused: false });
      // (One blank line or none before the note: the server's unit test pins that down.)
      expect(sleeping.content).toMatch(/^going to sleep\n\n?\[The cell has no new output after 2 seconds\./);
      const interrupted = await cell('python', 'C-c', { session: 'intr' });
      expect(Date.now() - started).toBeLessThan(20_000);
      expect(interrupted.meta).toMatchObject({ still_running: false, exception: 'KeyboardInterrupt' });
      expect(interrupted.success).toBe(false);
      expect(interrupted.content).toContain('KeyboardInterrupt');
      expect(interrupted.content).not.toContain('woke up');
      const after = await cell('python', 'kept_through * 6', { session: 'intr' });
      expect(split(after.content).text).toBe('42');
      expect(after.meta.python).toBe(sleeping.meta.python);
    }, 60_000);

    it('says that `!cmd` and `%pip` need IPython, which this image does not have', async () => {
      for (const code of ['!echo hi', '%pip --version']) {
        const obs = await cell('python', code, { session: 'plain' });
        expect(obs.meta.exception).toBe('SyntaxError');
        expect(split(obs.content).text).toMatch(/SyntaxError: `!` and `%` lines need IPython, which this python \(\/usr\/bin\/python3(\.\d+)?\) cannot import$/);
      }
    }, 60_000);

    it('starts a fresh interpreter, with a note, after the last one was killed from the bash session', async () => {
      await cell('python', 'lost = 1', { session: 'killed' });
      const pid = Number(split((await cell('python', 'import os; os.getpid()', { session: 'killed' })).content).text);
      expect(pid).toBeGreaterThan(1);
      expect((await run('python', `kill -9 ${pid} && sleep 0.5 && echo killed`, { session: 'killed' })).content).toBe('killed\n');
      const obs = await cell('python', '"lost" in globals()', { session: 'killed' });
      expect(split(obs.content).text).toBe('[The Python interpreter was killed by SIGKILL; this cell runs in a fresh one: variables and imports from earlier cells are gone.]\nFalse');
      expect(split((await cell('python', 'os.getpid()', { session: 'killed' })).content).text).toMatch(/NameError/);
    }, 60_000);

    it('runs cells as the session user when the container runs as a non-root user', async () => {
      const code = 'import os, pwd\n(os.getuid(), os.getgid(), pwd.getpwuid(os.getuid()).pw_name, os.path.expanduser("~"))';
      expect(split((await cell('pythonUser', code)).content).text).toBe("(1000, 1000, 'agent', '/home/agent')");
      expect((await run('pythonUser', 'id -u')).content).toBe('1000\n');
      // The contrast: a root container's cells run as root.
      expect(split((await cell('python', code, { session: 'who' })).content).text).toBe("(0, 0, 'root', '/root')");
    }, 60_000);

    it("runs cells as --username's user when a root server switches its shells to it", async () => {
      const obs = await cell('pythonUsername', 'import os\n(os.getuid(), os.getgid(), 0 in os.getgroups())');
      expect(split(obs.content).text).toBe('(1000, 1000, False)');
      expect(split((await cell('pythonUsername', 'open("/etc/shadow").read()')).content).text).toMatch(/PermissionError: \[Errno 13\] Permission denied: '\/etc\/shadow'$/);
    }, 60_000);
  });

  describe.concurrent('rc-test/pydata:1 (IPython, matplotlib, pip)', () => {
    /** A PNG data URL's bytes, after checking its form. */
    const decode = (url: string): Buffer => {
      expect(url).toMatch(/^data:image\/png;base64,[A-Za-z0-9+/]+=*$/);
      return Buffer.from(url.slice('data:image/png;base64,'.length), 'base64');
    };
    const plausible = (png: Buffer) => {
      expect(png.subarray(0, 8).equals(PNG_SIGNATURE), `PNG signature: ${png.subarray(0, 8).toString('hex')}`).toBe(true);
      expect(png.length).toBeGreaterThan(5_000);
      expect(png.length).toBeLessThan(5_000_000);
      const { width, height } = pngSize(png);
      expect(width).toBeGreaterThanOrEqual(200);
      expect(height).toBeGreaterThanOrEqual(150);
      expect(width).toBeLessThanOrEqual(4000);
      expect(height).toBeLessThanOrEqual(4000);
    };

    it('returns a figure the cell left open as one PNG data URL', async () => {
      const obs = await cell('pydata', 'import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.plot([1, 2, 3], [1, 4, 9])\n_ = ax.set_title("squares")', { session: 'plot' }, 120);
      expect(obs.meta).toMatchObject({ still_running: false, exception: null });
      expect(obs.extras.image_urls, obs.content).toHaveLength(1);
      plausible(decode(obs.extras.image_urls[0]));
      // The figure went out with that cell: the next one has none.
      expect((await cell('pydata', '1 + 1', { session: 'plot' })).extras.image_urls).toBeNull();
    }, 180_000);

    it('returns a figure shown with plt.show() once', async () => {
      const obs = await cell('pydata', 'import matplotlib.pyplot as plt\nplt.plot([3, 1, 2])\nplt.title("shown")\nplt.show()', { session: 'show' }, 120);
      expect(obs.meta).toMatchObject({ still_running: false, exception: null });
      expect(obs.extras.image_urls, obs.content).toHaveLength(1);
      plausible(decode(obs.extras.image_urls[0]));
    }, 180_000);

    it('accepts %matplotlib inline, the notebook idiom, and then returns each plt.show() as an image', async () => {
      const inline = await cell('pydata', '%matplotlib inline', { session: 'inline' }, 120);
      expect(inline.meta.exception, inline.content).toBeNull();
      expect(inline.success).toBe(true);
      const obs = await cell('pydata', 'import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()\nplt.plot([3, 2, 1])\nplt.show()', { session: 'inline' }, 120);
      expect(obs.meta.exception, obs.content).toBeNull();
      expect(obs.extras.image_urls, obs.content).toHaveLength(2);
      obs.extras.image_urls.forEach((url: string) => plausible(decode(url)));
      expect(obs.extras.image_urls[0]).not.toBe(obs.extras.image_urls[1]);
    }, 180_000);

    it('runs !cmd in a shell', async () => {
      const obs = await cell('pydata', '!echo hi', { session: 'bang' }, 120);
      expect(obs.success).toBe(true);
      expect(split(obs.content).text).toBe('hi');
      // The shell command runs in the cell's cwd, which is the bash session's.
      await run('pydata', 'cd /tmp', { session: 'bang' });
      expect(split((await cell('pydata', '!pwd', { session: 'bang' })).content).text).toBe('/tmp');
    }, 180_000);

    it("runs %pip, with the image's pip", async () => {
      const obs = await cell('pydata', '%pip --version', { session: 'pip' }, 120);
      expect(obs.meta.exception).toBeNull();
      expect(split(obs.content).text).toMatch(/^pip \d+(\.\d+)+ from \/usr\/lib\/python3\/dist-packages\/pip \(python 3\.\d+\)/m);
    }, 180_000);

    it("prints the last expression's value without an Out[n]: prompt", async () => {
      const obs = await cell('pydata', 'x = 40\nx + 2', { session: 'out' }, 120);
      expect(split(obs.content).text).toBe('42');
      expect(obs.content).not.toMatch(/Out\[\d+\]/);
      const text = split((await cell('pydata', '"a string"', { session: 'out' })).content).text;
      expect(text).toBe("'a string'");
    }, 180_000);
  });

  describe('rc-test/busybox:1 (no Python)', () => {
    it('answers an error observation (no_python), writes nothing into the image, and the session still runs commands', async () => {
      expect((await run('busybox', 'echo before')).content).toBe('before\n');
      const before = await changes('busybox');
      const obs = await cell('busybox', '1+1');
      expect(obs).toMatchObject({ observation: 'error', extras: { error_id: 'no_python' }, success: false });
      expect(obs.content).toMatch(/no Python/);
      expect(obs.content).toMatch(/Nothing was installed/);
      // Asked again: the same answer, nothing was attempted in between.
      expect((await cell('busybox', 'print("again")')).extras.error_id).toBe('no_python');
      expect(await changes('busybox')).toEqual(before);
      const found = await run('busybox', 'find / -xdev -name "python*" 2>/dev/null | grep -v "^/opt/runtime-client/" ; echo searched');
      expect(found.content).toBe('searched\n');
      expect((await run('busybox', 'echo after')).content).toBe('after\n');
    }, 60_000);
  });
});
