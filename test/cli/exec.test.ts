// `runtime-client exec` reaching a command that is still running (issue 11): stdin typed into
// the command (-i), --input, --keys and --continue after a timeout; spawned from the built host
// CLI against a real server.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOST_CLI, KEY, startServer, type TestServer } from '../helpers/server.js';

interface Exec {
  proc: ChildProcess;
  out(): string;
  err(): string;
  /** Resolves once stdout matches. */
  waitOut(pattern: RegExp, timeoutMs?: number): Promise<void>;
  done: Promise<{ code: number | null; out: string; err: string }>;
}

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server?.stop();
});

/** `runtime-client exec --url URL --key KEY ...args`; stdin is a pipe (`stdin` written to it and ended) or /dev/null. */
function exec(args: string[], stdin?: string | 'pipe'): Exec {
  const env = { ...process.env };
  delete env.SESSION_API_KEY;
  const proc = spawn(process.execPath, [HOST_CLI, 'exec', '--url', server.url, '--key', KEY, ...args], {
    env,
    stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
  proc.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s));
  if (typeof stdin === 'string' && stdin !== 'pipe') proc.stdin!.end(stdin);
  const done = new Promise<{ code: number | null; out: string; err: string }>((resolve) => proc.once('close', (code) => resolve({ code, out, err })));
  return {
    proc,
    out: () => out,
    err: () => err,
    done,
    waitOut: async (pattern, timeoutMs = 20_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(out)) {
        if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`stdout never matched ${pattern}: ${JSON.stringify(out)}; stderr ${JSON.stringify(err)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}

const run = (args: string[], stdin?: string) => exec(args, stdin).done;
const sessions = async () => ((await (await fetch(`${server.url}/sessions`, { headers: { 'x-session-api-key': KEY } })).json()) as { sessions: { name: string }[] }).sessions;

describe('exec -i: stdin typed into the command', () => {
  it('answers a prompt: echo yes | exec -i -- read', async () => {
    const r = await run(['-i', '--session', 'in-a', '--', 'read x; echo "got-$x"'], 'yes\n');
    expect(r.code).toBe(0);
    expect(r.out).toContain('got-yes\n');
  });

  it('ends with C-d, so a command reading to the end of its input ends: wc -l counts the lines', async () => {
    const r = await run(['-i', '--session', 'in-b', '--', 'wc -l'], 'a\nb\nc'); // the last line has no newline
    expect(r.code).toBe(0);
    expect(r.out.trim().split('\n').pop()).toBe('3');
  });

  it('forwards lines as they come, not only at the end', async () => {
    const e = exec(['-i', '--session', 'in-c', '--', 'read a; echo "first-$a"; read b; echo "second-$b"'], 'pipe');
    e.proc.stdin!.write('one\n');
    await e.waitOut(/first-one/);
    expect(e.out()).not.toContain('second-');
    e.proc.stdin!.end('two\n');
    const r = await e.done;
    expect(r.code).toBe(0);
    expect(r.out).toContain('second-two');
  });

  it('is off without -i: stdin is not read, the command waits on its terminal', async () => {
    const r = await run(['--session', 'in-d', '--', 'read -t 1 x; echo "[$x]"'], 'yes\n');
    expect(r.out).toContain('[]\n');
    expect(r.out).not.toContain('yes');
  });

  it('does not type into an earlier command when the session is busy and this one is refused', async () => {
    expect((await run(['--session', 'in-e', '--timeout', '1', '--', 'read x; echo "earlier-$x"'])).code).toBe(124);
    const refused = await run(['-i', '--session', 'in-e', '--', 'echo new'], 'zzz\n');
    expect(refused.code).toBe(125);
    const answered = await run(['--session', 'in-e', '--input', 'ok']);
    expect(answered.code).toBe(0);
    expect(answered.out).toContain('earlier-ok');
    expect(answered.out).not.toContain('zzz');
  });
});

describe('reaching the command still running after exit 124', () => {
  it('--input types a line into it and follows it to its exit status; then the session takes commands again', async () => {
    const first = await run(['--session', 'r-a', '--timeout', '1', '--', 'echo start; read ans; echo "answered-$ans"; false']);
    expect(first).toMatchObject({ code: 124, out: 'start\n' });
    expect(first.err).toContain('it keeps running in session "r-a" (exec --session r-a --continue follows it, --keys C-c interrupts it)');
    const busy = await run(['--session', 'r-a', '--', 'echo next']);
    expect(busy.code).toBe(125);
    expect(busy.err).toContain('is still running an earlier command (exec --session r-a --continue follows it, --input TEXT types into it, --keys C-c interrupts it)');
    const answered = await run(['--session', 'r-a', '--input', 'hello']);
    expect(answered.code).toBe(1); // `false`, the command's last word
    expect(answered.out).toContain('answered-hello\n');
    expect(await run(['--session', 'r-a', '--', 'echo next'])).toMatchObject({ code: 0, out: 'next\n' });
  });

  it('--keys C-c interrupts it (130); --keys "C-c C-c" kills a job that ignores SIGINT (137)', async () => {
    expect((await run(['--session', 'r-b', '--timeout', '1', '--', 'echo s; sleep 30'])).code).toBe(124);
    const interrupted = await run(['--session', 'r-b', '--keys', 'C-c']);
    expect(interrupted.code).toBe(130);
    expect((await run(['--session', 'r-c', '--timeout', '1', '--', 'trap "" INT; echo s; sleep 30'])).code).toBe(124);
    const killed = await run(['--session', 'r-c', '--keys', 'C-c C-c']);
    expect(killed.code).toBe(137);
    expect(await run(['--session', 'r-c', '--', 'echo alive'])).toMatchObject({ code: 0, out: 'alive\n' });
  });

  it('--continue shows what it printed meanwhile, then follows it: every line once, in order', async () => {
    const script = 'for i in 1 2 3 4 5 6 7 8; do echo "tick$i"; sleep 0.3; done; echo end';
    const first = await run(['--session', 'r-d', '--timeout', '1', '--', script]);
    expect(first.code).toBe(124);
    await new Promise((r) => setTimeout(r, 700)); // ticks printed while nobody watched
    const rest = await run(['--session', 'r-d', '--continue']);
    expect(rest.code).toBe(0);
    expect(first.out + rest.out).toBe('tick1\ntick2\ntick3\ntick4\ntick5\ntick6\ntick7\ntick8\nend\n');
  });

  it('--continue --timeout gives 124 again while it still runs; Ctrl-C sends it C-c', async () => {
    expect((await run(['--session', 'r-e', '--timeout', '1', '--', 'echo s; sleep 30; echo not-reached'])).code).toBe(124);
    const again = await run(['--session', 'r-e', '--continue', '--timeout', '0.5']);
    expect(again.code).toBe(124);
    expect(again.err).toContain('timed out after 0.5 seconds; it keeps running in session "r-e"');
    const e = exec(['--session', 'r-e', '--continue']);
    await new Promise((r) => setTimeout(r, 1500)); // past the lead actions: following
    e.proc.kill('SIGINT');
    const r = await e.done;
    expect(r.code).toBe(130);
    expect(r.out).not.toContain('not-reached');
    expect(r.err).toContain('C-c sent');
  });

  it('answers 125 when nothing runs, and does not start a session that does not exist', async () => {
    expect((await run(['--session', 'r-f', '--', 'true'])).code).toBe(0);
    for (const args of [['--continue'], ['--input', 'x'], ['--keys', 'C-c']]) {
      const r = await run(['--session', 'r-f', ...args]);
      expect(r.code).toBe(125);
      expect(r.err).toContain('no command is running in session "r-f"');
    }
    const none = await run(['--session', 'never-made', '--continue']);
    expect(none.code).toBe(125);
    expect(none.err).toContain('no session "never-made"');
    expect((await sessions()).map((s) => s.name)).not.toContain('never-made');
  });
});

describe('exec usage', () => {
  it('documents the flags in exec --help', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    for (const flag of ['-i, --stdin', '--input TEXT', '--keys KEYS', '--continue', '--timeout SECONDS', 'Exit status:']) expect(r.out).toContain(flag);
  });

  it('refuses two things to do, a key it does not know, and a bad timeout (2)', async () => {
    const cases: [string[], string][] = [
      [['--input', 'x', '--', 'echo hi'], 'exec takes one of a command, --input, --keys and --continue; got a command and --input'],
      [['--continue', '--keys', 'C-c'], 'got --keys and --continue'],
      [['--keys', 'Ctrl-C'], '--keys takes control keys written C-c, C-d, C-z... (C- and a letter), got "Ctrl-C"'],
      [['--timeout', '0', '--', 'true'], '--timeout must be a positive number of seconds up to 2147483, got "0"'],
      [['--timeout', 'soon', '--', 'true'], 'got "soon"'],
      [[], 'exec needs a command'],
    ];
    for (const [args, message] of cases) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toContain(message);
    }
  });
});
