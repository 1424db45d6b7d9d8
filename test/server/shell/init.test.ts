// session-init (server/shell/init/session-init.c), run for real on a pty by node-pty as the server
// runs its shells: the processes a session starts (setsid'd, nohup'd, double-forked daemons, a
// fork bomb) end with it, whether the shell exits, the server ends the session or the server dies;
// it reaps orphans, ignores C-c, mirrors the shell's exit, and stays root when the shell does not.
// Issue 10, item 11. Processes are found by a marker unique to each test (`1000.<tag>` in their
// command line) and every one left is killed after each test.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as pty from 'node-pty';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sessionInitArgs, sessionInitPath } from '../../../server/shell/init.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const INIT = join(ROOT, 'dist', 'session-init');
const BASH = '/bin/bash';
const SHELL_ARGS = ['--norc', '--noprofile', '-i'];
const isRoot = process.getuid?.() === 0;

beforeAll(() => {
  // `npm run build` makes it; this is a no-op when it is fresh.
  execFileSync(process.execPath, [join(ROOT, 'bundle', 'native.mjs')]);
}, 60_000);

let count = 0;
const tags: string[] = [];
const terms: pty.IPty[] = [];
const children: ChildProcess[] = [];

/** A marker for this test's processes: `sleep 1000.<tag>`; all tags have the same length. */
function newTag(): string {
  const tag = `${process.pid}${String(++count).padStart(3, '0')}`;
  tags.push(tag);
  return tag;
}

interface Proc {
  pid: number;
  argv: string[];
  state: string;
  ppid: number;
  uid: number;
}

function proc(pid: number): Proc | undefined {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').slice(0, -1);
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))?.[1]);
    return { pid, argv, state: state!, ppid: Number(ppid), uid };
  } catch {
    return undefined; // gone while we looked
  }
}

function allProcs(): Proc[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .map((e) => proc(Number(e)))
    .filter((p): p is Proc => p !== undefined);
}

/** Live (not zombie) processes whose command line holds `1000.<tag>`. */
function marked(tag: string): Proc[] {
  return allProcs().filter((p) => p.state !== 'Z' && p.argv.some((a) => a.includes(`1000.${tag}`)));
}

/** The `sleep 1000.<tag>...` processes. */
function sleeps(tag: string): Proc[] {
  return marked(tag).filter((p) => p.argv[0]?.endsWith('sleep'));
}

function alive(pid: number): boolean {
  const p = proc(pid);
  return p !== undefined && p.state !== 'Z';
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Term {
  term: pty.IPty;
  output: () => string;
  exited: Promise<{ exitCode: number; signal?: number }>;
}

/** `file args` on a pty, as the server spawns its shells. */
function onPty(file: string, args: string[], ids: { uid?: number; gid?: number } = {}): Term {
  const term = pty.spawn(file, args, { name: 'xterm', cols: 200, rows: 50, cwd: '/tmp', env: { ...process.env, PS1: '$ ' } as Record<string, string>, ...ids });
  terms.push(term);
  let output = '';
  term.onData((d) => (output += d));
  const exited = new Promise<{ exitCode: number; signal?: number }>((resolve) => term.onExit(resolve));
  return { term, output: () => output, exited };
}

/** An interactive bash under session-init (or directly, as the server runs it today). */
const initShell = (ids: string[] = []) => onPty(INIT, [...ids, ...sessionInitArgs(BASH, SHELL_ARGS)]);
const bareShell = () => onPty(BASH, SHELL_ARGS);

/** Starts three processes that leave the shell's session, and waits for them. */
async function startLeaks(t: Term, tag: string): Promise<void> {
  t.term.write(
    [
      `setsid sleep 1000.${tag}1 &`,
      `nohup setsid bash -c 'sleep 1000.${tag}2' >/dev/null 2>&1 &`,
      // a daemon: double fork, new session, its parents gone
      `(setsid bash -c 'sleep 1000.${tag}3 & exit' &)`,
      '',
    ].join('\r'),
  );
  await waitFor('three sleeps', () => sleeps(tag).length === 3);
}

afterEach(() => {
  for (const t of terms.splice(0)) {
    try {
      process.kill(t.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const c of children.splice(0)) c.kill('SIGKILL');
  for (const tag of tags.splice(0)) {
    for (const p of marked(tag)) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
});

describe('sessionInitPath', () => {
  it('finds dist/session-init from the source, the tsc output and the built CLI', () => {
    const url = (rel: string) => `file://${join(ROOT, rel)}`;
    for (const module of ['server/shell/init.ts', 'server/dist/shell/init.js', 'dist/runtime-client.mjs', 'dist/cli.mjs']) {
      expect(sessionInitPath('/nonexistent/bin/node', url(module)), module).toBe(INIT);
    }
  });

  it('finds the bundle’s bin/session-init beside the executable, also when started through lib/', () => {
    const bundle = mkdtempSync(join(tmpdir(), 'rc-init-bundle-'));
    try {
      const cli = `file://${join(ROOT, 'dist', 'runtime-client.mjs')}`; // the bundle wins over dist/
      expect(sessionInitPath(join(bundle, 'bin', 'runtime-client'), cli)).toBe(INIT);
      mkdirSync(join(bundle, 'bin'));
      writeFileSync(join(bundle, 'bin', 'session-init'), '');
      expect(sessionInitPath(join(bundle, 'bin', 'runtime-client'), cli)).toBe(join(bundle, 'bin', 'session-init'));
      expect(sessionInitPath(join(bundle, 'lib', 'ld-linux-x86-64.so.2'), cli)).toBe(join(bundle, 'bin', 'session-init'));
      expect(sessionInitPath(join(bundle, 'lib', 'ld-linux-x86-64.so.2'), 'file:///nonexistent/x.mjs')).toBe(join(bundle, 'bin', 'session-init'));
      rmSync(join(bundle, 'bin', 'session-init'));
      expect(sessionInitPath(join(bundle, 'lib', 'ld-linux-x86-64.so.2'), 'file:///nonexistent/x.mjs')).toBeUndefined();
    } finally {
      rmSync(bundle, { recursive: true, force: true });
    }
  });

  it('builds the arguments: ids when given, then -- and the shell', () => {
    expect(sessionInitArgs('/bin/bash', ['-i'])).toEqual(['--', '/bin/bash', '-i']);
    expect(sessionInitArgs('/bin/bash', ['-i'], { uid: 65534, gid: 65533 })).toEqual(['--uid', '65534', '--gid', '65533', '--', '/bin/bash', '-i']);
  });
});

describe('usage', () => {
  it.each([
    [[], 'no SHELL given'],
    [['--uid', '1', '--', BASH], '--uid and --gid go together'],
    [['--uid', 'x', '--gid', '1', BASH], '--uid needs a number from 0 to 4294967294'],
    [['--gid', '-1', '--uid', '1', BASH], '--gid needs a number'],
    [['--verbose', BASH], 'unknown option --verbose'],
  ])('%j exits 2 and says why', (args, why) => {
    let status = 0;
    let stderr = '';
    try {
      execFileSync(INIT, args, { stdio: 'pipe' });
    } catch (e) {
      ({ status, stderr } = e as { status: number; stderr: string });
    }
    expect(status).toBe(2);
    expect(String(stderr)).toContain(`session-init: ${why}`);
    expect(String(stderr)).toContain('usage: session-init [--uid N --gid N] [--] SHELL [ARGS...]');
  });

  it('exits 127 with the reason when the shell cannot run', async () => {
    const t = onPty(INIT, ['--', '/nonexistent/shell']);
    expect((await t.exited).exitCode).toBe(127);
    expect(t.output()).toContain('session-init: cannot run /nonexistent/shell: No such file or directory');
  });
});

describe('when memory runs out', () => {
  it("the session's processes go first: the shell and what it starts run with oom_score_adj 500, the caller keeps its own", () => {
    const mine = readFileSync('/proc/self/oom_score_adj', 'utf8').trim();
    const out = execFileSync(INIT, ['--', BASH, '-c', 'cat /proc/self/oom_score_adj; bash -c "cat /proc/self/oom_score_adj"'], { encoding: 'utf8' });
    expect(out.trim().split('\n')).toEqual(['500', '500']);
    expect(readFileSync('/proc/self/oom_score_adj', 'utf8').trim()).toBe(mine);
  });

  it('a value already higher is kept', () => {
    const out = execFileSync(BASH, ['-c', `echo 800 > /proc/self/oom_score_adj && exec ${INIT} -- ${BASH} -c 'cat /proc/self/oom_score_adj'`], { encoding: 'utf8' });
    expect(out.trim()).toBe('800');
  });
});

describe('without session-init (the server today)', () => {
  it('setsid, nohup setsid and a daemon outlive the shell and a kill of its session', async () => {
    const tag = newTag();
    const t = bareShell();
    await startLeaks(t, tag);
    const sid = t.term.pid;
    t.term.write('exit\r');
    await t.exited;
    // What server/shell/procs.ts does: SIGKILL every process whose session id is the shell's.
    for (const p of allProcs()) {
      const stat = readFileSync(`/proc/${p.pid}/stat`, 'latin1');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]) === sid) process.kill(p.pid, 'SIGKILL');
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(sleeps(tag)).toHaveLength(3);
  });
});

describe('session-init ends everything the session started', () => {
  const endings: [string, (t: Term) => void, number][] = [
    ['the shell exits', (t) => t.term.write('exit\r'), 0],
    ['the server sends SIGTERM', (t) => process.kill(t.term.pid, 'SIGTERM'), 128 + 15],
    ['the pty hangs up (SIGHUP)', (t) => process.kill(t.term.pid, 'SIGHUP'), 128 + 1],
  ];
  it.each(endings)('when %s: setsid, nohup setsid and a daemon are gone', async (_, end, exitCode) => {
    const tag = newTag();
    const t = initShell();
    await startLeaks(t, tag);
    end(t);
    const exit = await t.exited;
    // session-init exits only once its subtree is gone.
    expect(marked(tag)).toEqual([]);
    expect(exit.exitCode).toBe(exitCode);
    expect(exit.signal ?? 0).toBe(0);
  });

  it('when the server dies (SIGKILL): its pty closes and its parent is gone', async () => {
    const tag = newTag();
    // A stand-in for the server: node with node-pty, killed with SIGKILL.
    const server = spawn(
      process.execPath,
      ['-e', "const t = require('node-pty').spawn(process.argv[1], process.argv.slice(2), { cwd: '/tmp', env: process.env }); t.onData(() => {}); t.write(process.env.SCRIPT + '\\r'); console.log(t.pid);", INIT, '--', BASH, ...SHELL_ARGS],
      { cwd: ROOT, env: { ...process.env, SCRIPT: `setsid sleep 1000.${tag}1 & (setsid bash -c 'sleep 1000.${tag}2 & exit' &)` }, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    children.push(server);
    const initPid = await new Promise<number>((resolve) => server.stdout!.once('data', (d) => resolve(Number(String(d).trim()))));
    await waitFor('two sleeps', () => sleeps(tag).length === 2);
    server.kill('SIGKILL');
    await waitFor('session-init to exit', () => !alive(initPid));
    expect(marked(tag)).toEqual([]);
  });

  it('when its parent dies without a pty (PR_SET_PDEATHSIG)', async () => {
    const tag = newTag();
    const parent = spawn(BASH, ['-c', `"$0" -- ${BASH} -c "setsid sleep 1000.${tag}1 & exec sleep 1000.${tag}2" & echo $!; wait`, INIT], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(parent);
    const initPid = await new Promise<number>((resolve) => parent.stdout!.once('data', (d) => resolve(Number(String(d).trim()))));
    await waitFor('two sleeps', () => sleeps(tag).length === 2);
    parent.kill('SIGKILL');
    await waitFor('session-init to exit', () => !alive(initPid));
    expect(marked(tag)).toEqual([]);
  });

  it('a fork bomb still forking is all gone after SIGTERM', async () => {
    const tag = newTag();
    const t = initShell();
    // A tree of 15 forkers (depth 3), each forking 40 setsid'd sleeps, one every 20 ms: at most 615
    // processes, and still forking when SIGTERM comes (what a forker forks between session-init's
    // scan of /proc and its kill is caught by a later round). $0 marks the forkers.
    const bomb = `b() { [ $1 -gt 0 ] && { b $(($1-1)) & b $(($1-1)) & }; for i in $(seq 40); do setsid sleep 1000.${tag} & sleep 0.02; done; wait; }; b 3`;
    t.term.write(`bash -c '${bomb}' bomb-1000.${tag} &\r`);
    await waitFor('the bomb to grow', () => marked(tag).length >= 100, 20_000);
    const started = Date.now();
    process.kill(t.term.pid, 'SIGTERM');
    const exit = await t.exited;
    expect(exit.exitCode).toBe(128 + 15);
    expect(marked(tag)).toEqual([]);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe('session-init as the session init', () => {
  it('exits with the shell status', async () => {
    const t = initShell();
    t.term.write('exit 3\r');
    expect(await t.exited).toMatchObject({ exitCode: 3 });
  });

  it('dies of the signal that killed the shell', async () => {
    const t = initShell();
    t.term.write('kill -9 $$\r');
    expect((await t.exited).signal).toBe(9);
  });

  it('ignores C-c: the shell gets it and decides', async () => {
    // A non-interactive shell stays in session-init's process group, the terminal's foreground.
    const t = onPty(INIT, ['--', BASH, '-c', 'trap "echo got-int; exit 5" INT; echo ready; while :; do sleep 0.05; done']);
    await waitFor('ready', () => t.output().includes('ready'));
    t.term.write('\x03');
    expect(await t.exited).toMatchObject({ exitCode: 5 });
    expect(t.output()).toContain('got-int');
  });

  it('reaps the orphans reparented to it: no zombies', async () => {
    const t = initShell();
    const init = t.term.pid;
    // Twenty orphans (their parent subshell exits at once) that end 0.5 s later.
    t.term.write('for i in $(seq 20); do ( (sleep 0.5; exit 0) & ); done\r');
    const children = () => allProcs().filter((p) => p.ppid === init);
    await waitFor('orphans reparented to session-init', () => children().length > 10);
    await waitFor('the orphans to end', () => children().length === 1, 10_000);
    await new Promise((r) => setTimeout(r, 200));
    expect(children().map((p) => p.state)).not.toContain('Z');
    expect(children()).toHaveLength(1); // the shell
    expect(alive(init)).toBe(true);
  });

  it.runIf(isRoot)('runs the shell as --uid/--gid while staying root; the session user cannot kill it', async () => {
    const tag = newTag();
    const t = initShell(['--uid', '65534', '--gid', '65534']);
    t.term.write(`echo "ids=$(id -u):$(id -g)"; kill -9 $PPID; echo "kill=$?"\r`);
    await waitFor('the kill to fail', () => /kill=\d/.test(t.output()));
    expect(t.output()).toContain('ids=65534:65534');
    expect(t.output()).toMatch(/Operation not permitted[\s\S]*kill=1/);
    expect(proc(t.term.pid)).toMatchObject({ uid: 0 });
    await startLeaks(t, tag);
    expect(sleeps(tag).map((p) => p.uid)).toEqual([65534, 65534, 65534]);
    t.term.write('exit\r');
    expect(await t.exited).toMatchObject({ exitCode: 0 });
    expect(marked(tag)).toEqual([]);
  });

  it.runIf(isRoot)('works as one unprivileged user (spawned as nobody, --uid/--gid its own)', async () => {
    const tag = newTag();
    const t = onPty(INIT, sessionInitArgs(BASH, SHELL_ARGS, { uid: 65534, gid: 65534 }), { uid: 65534, gid: 65534 });
    await startLeaks(t, tag);
    expect(proc(t.term.pid)).toMatchObject({ uid: 65534 });
    process.kill(t.term.pid, 'SIGTERM');
    expect(await t.exited).toMatchObject({ exitCode: 128 + 15 });
    expect(marked(tag)).toEqual([]);
  });
});
