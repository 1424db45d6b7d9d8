// run_ipython through a real server and the machine's own python3: one interpreter per session,
// state kept between cells, the bash session's cwd, timeouts that never kill, C-c, a dead
// interpreter replaced with a note, the session user, and the clean error without Python.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, KEY, type TestServer } from '../../helpers/server.js';

function cell(server: TestServer, code: string, args: Record<string, unknown> = {}, timeout?: number) {
  return server.execute({ action: 'run_ipython', args: { code, include_extra: false, ...args }, ...(timeout ? { timeout } : {}) }).then(({ status, body }) => {
    if (status !== 200) throw new Error(`HTTP ${status}: ${JSON.stringify(body)}`);
    return body;
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('run_ipython', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ env: { NO_CHANGE_TIMEOUT_SECONDS: '1' } });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("shows the last expression's value, in OpenHands' shape, with the cwd and interpreter lines when include_extra", async () => {
    const obs = await cell(server, '1+1', { include_extra: true });
    expect(obs).toMatchObject({ observation: 'run_ipython', extras: { code: '1+1', image_urls: null }, success: true, meta: { still_running: false, refused: false, exception: null } });
    const [value, cwdLine, pythonLine] = obs.content.split('\n');
    expect(value).toBe('2');
    expect(cwdLine).toMatch(/^\[Jupyter current working directory: \/.+\]$/);
    expect(pythonLine).toBe(`[Jupyter Python interpreter: ${obs.meta.python}]`);
    expect(obs.meta.python).toMatch(/python3?[.\d]*$/);
  });

  it('keeps variables and imports between cells, and prints nothing for None', async () => {
    await cell(server, 'import json\nkept = {"a": 41}');
    expect((await cell(server, 'kept["a"] + 1')).content).toBe('42');
    expect((await cell(server, 'json.dumps(kept)')).content).toBe(`'{"a": 41}'`);
    expect((await cell(server, 'print("out"); None')).content).toBe('out');
    expect((await cell(server, 'x = 5')).content).toBe('[Code executed successfully with no output]');
  });

  it('gives a traceback as content, names the exception in meta, and the interpreter stays', async () => {
    const obs = await cell(server, 'def f():\n    return 1/0\nf()');
    expect(obs.success).toBe(false);
    expect(obs.meta.exception).toBe('ZeroDivisionError');
    expect(obs.content).toContain('ZeroDivisionError');
    expect(obs.content).toContain('return 1/0');
    expect((await cell(server, 'kept["a"]')).content).toBe('41');
  });

  it('keeps multi-byte characters whole across pipe reads, in content, in the full output file and in the stream', async () => {
    const ws = await server.ws();
    try {
      ws.send({ type: 'execute', id: 'utf8-cell', action: { action: 'run_ipython', args: { code: 'print("é€😀" * 40000)', include_extra: false, blocking: true } } });
      const { observation } = await ws.waitFor((f) => f.type === 'observation' && f.id === 'utf8-cell');
      const streamed = ws.frames.filter((f) => f.type === 'output' && f.id === 'utf8-cell').map((f) => f.data).join('');
      expect(streamed).toBe('é€😀'.repeat(40000) + '\n');
      expect(observation.content).not.toContain('\ufffd');
      expect(readFileSync(observation.meta.full_output_path, 'utf8')).toBe('é€😀'.repeat(40000) + '\n');
    } finally {
      await ws.close();
    }
  });

  it("runs in the bash session's cwd, and follows it when bash moves", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rc-cell-cwd-'));
    await server.run(`cd ${dir}`);
    expect((await cell(server, 'import os; os.getcwd()')).content).toBe(`'${dir}'`);
    // A cell's own chdir persists while bash stays where it was.
    await cell(server, 'os.chdir("/")');
    expect((await cell(server, 'os.getcwd()')).content).toBe(`'/'`);
  });

  it('returns at the soft timeout with the cell still running, refuses a new cell, and "" brings the rest', async () => {
    const first = await cell(server, 'import time\nprint("a", flush=True)\ntime.sleep(2.5)\nprint("b")', { session: 'soft' });
    expect(first.meta).toMatchObject({ still_running: true, refused: false });
    expect(first.content).toMatch(/^a\n\[The cell has no new output after 1 seconds\./);
    const refused = await cell(server, '2+2', { session: 'soft' });
    expect(refused.meta).toMatchObject({ still_running: true, refused: true });
    expect(refused.content).toContain('[Below is the output of the previous cell.]');
    expect(refused.content).toContain('is NOT executed');
    const rest = await cell(server, '', { session: 'soft', blocking: true });
    expect(rest.meta.still_running).toBe(false);
    expect(rest.content).toBe('[Below is the output of the previous cell.]\nb');
    expect((await cell(server, '2+2', { session: 'soft' })).content).toBe('4');
  });

  it('C-c interrupts a cell with KeyboardInterrupt and keeps the interpreter; a second C-c ends one that ignores it', async () => {
    await cell(server, 'kept_here = 7', { session: 'intr' });
    const timedOut = await cell(server, 'import time\ntime.sleep(60)', { session: 'intr', blocking: true }, 1);
    expect(timedOut.content).toContain('[The cell timed out after 1 seconds.');
    const interrupted = await cell(server, 'C-c', { session: 'intr', blocking: true });
    expect(interrupted.content).toContain('KeyboardInterrupt');
    expect(interrupted.meta).toMatchObject({ still_running: false, exception: 'KeyboardInterrupt' });
    expect((await cell(server, 'kept_here', { session: 'intr' })).content).toBe('7');

    await cell(server, 'import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True: pass', { session: 'intr', blocking: true }, 1);
    const ignored = await cell(server, 'C-c', { session: 'intr' }, 1);
    expect(ignored.meta.still_running).toBe(true);
    const ended = await cell(server, 'C-c', { session: 'intr', blocking: true });
    expect(ended.content).toContain('[The Python interpreter was ended by a second C-c while this cell ran; the next cell starts a fresh one');
    const fresh = await cell(server, 'kept_here', { session: 'intr' });
    expect(fresh.meta.exception).toBe('NameError');
  });

  it('a cell that kills the interpreter gets a note, and the next cell a fresh one with a note', async () => {
    await cell(server, 'lost = 1', { session: 'dies' });
    const died = await cell(server, 'import os\nprint("bye", flush=True)\nos._exit(3)', { session: 'dies' });
    expect(died.content).toMatch(/^bye\n\[The Python interpreter exited with status 3 while this cell ran; the next cell starts a fresh one/);
    expect(died.success).toBe(false);
    const next = await cell(server, '"lost" in globals()', { session: 'dies' });
    expect(next.content).toBe('False');
  });

  it('an interpreter that dies between cells is replaced, and the next cell says so', async () => {
    const pid = Number((await cell(server, 'import os; os.getpid()', { session: 'killed' })).content);
    process.kill(pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    const next = await cell(server, '1', { session: 'killed' });
    expect(next.content).toMatch(/^\[The Python interpreter was killed by SIGKILL; this cell runs in a fresh one: variables and imports from earlier cells are gone\.\]\n1$/);
  });

  it('ending the session ends its interpreter and what the cell started', async () => {
    const pid = Number((await cell(server, 'import os, subprocess\nchild = subprocess.Popen(["sleep", "300"])\nos.getpid()', { session: 'ending' })).content);
    const child = Number((await cell(server, 'child.pid', { session: 'ending' })).content);
    expect(alive(pid) && alive(child)).toBe(true);
    const res = await fetch(`${server.url}/sessions/ending`, { method: 'DELETE', headers: { 'x-session-api-key': KEY } });
    expect(res.status).toBe(200);
    await new Promise((r) => setTimeout(r, 300));
    expect(alive(pid)).toBe(false);
    expect(alive(child)).toBe(false);
  });
});

describe('run_ipython as another user, and without Python', () => {
  it('runs the interpreter as the session user', async () => {
    const server = await startServer({ args: ['--username', 'nobody', '--working-dir', '/tmp'] });
    try {
      expect((await cell(server, 'import os; (os.getuid(), os.getgid())')).content).toBe('(65534, 65534)');
    } finally {
      await server.stop();
    }
  });

  it('answers an error observation when the session has no python, and installs nothing', async () => {
    const bin = mkdtempSync(join(tmpdir(), 'rc-nopy-'));
    mkdirSync(join(bin, 'bin'));
    symlinkSync('/bin/bash', join(bin, 'bin', 'bash'));
    const server = await startServer({ env: { PATH: join(bin, 'bin') } });
    try {
      const obs = await cell(server, '1+1');
      expect(obs).toMatchObject({ observation: 'error', extras: { error_id: 'no_python' }, success: false });
      expect(obs.content).toContain('no Python');
      expect(obs.content).toContain('Nothing was installed');
      expect((await server.run('echo still here')).content).toBe('still here\n');
    } finally {
      await server.stop();
    }
  });
});
