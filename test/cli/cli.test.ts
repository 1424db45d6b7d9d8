// `runtime-client exec | run | ps | stop`, spawned from the built CLI against a real server and,
// when there is an engine, real containers.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOST_CLI as CLI, KEY, startServer, type TestServer } from '../helpers/server.js';
import { engineAvailable, requireEngine } from '../docker/engine.js';

const root = join(import.meta.dirname, '..', '..');

interface Spawned {
  proc: ChildProcess;
  /** stdout so far, and when each chunk came (ms since spawn). */
  stdout: { text: string; at: number }[];
  stderr: string[];
  out(): string;
  err(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  /** Resolves once stdout matches. */
  waitOut(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
}

function cli(args: string[], env: Record<string, string | undefined> = {}): Spawned {
  const started = Date.now();
  const fullEnv = { ...process.env, ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete fullEnv[k];
  const proc = spawn(process.execPath, [CLI, ...args], { env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const s: Spawned = {
    proc,
    stdout: [],
    stderr: [],
    out: () => s.stdout.map((c) => c.text).join(''),
    err: () => s.stderr.join(''),
    exited: new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() - started }))),
    waitOut: (pattern, timeoutMs = 30_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const m = s.out().match(pattern);
          if (!m) return false;
          clearTimeout(timer);
          proc.stdout!.off('data', check);
          resolve(m);
          return true;
        };
        const fail = (why: string) => reject(new Error(`stdout never matched ${pattern} (${why}): ${JSON.stringify(s.out())}; stderr ${JSON.stringify(s.err())}`));
        const timer = setTimeout(() => fail(`${timeoutMs} ms`), timeoutMs);
        if (check()) return;
        proc.stdout!.on('data', check);
        void s.exited.then(({ code }) => setTimeout(() => check() || fail(`exited with ${code}`), 50));
      }),
  };
  proc.stdout!.setEncoding('utf8').on('data', (text: string) => s.stdout.push({ text, at: Date.now() - started }));
  proc.stderr!.setEncoding('utf8').on('data', (text: string) => s.stderr.push(text));
  return s;
}

async function finished(s: Spawned): Promise<{ code: number | null; out: string; err: string }> {
  const { code } = await s.exited;
  return { code, out: s.out(), err: s.err() };
}

describe('runtime-client exec (real server)', () => {
  let server: TestServer;
  const exec = (args: string[], env: Record<string, string | undefined> = {}) =>
    cli(['exec', '--url', server.url, ...args], { SESSION_API_KEY: undefined, ...env });
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('prints the output and exits with the command status', async () => {
    const r = await finished(exec(['--key', KEY, '--', 'echo hi; exit 3']));
    expect(r.out).toContain('hi\n');
    expect(r.code).toBe(3);
  });

  it('streams: output appears while the command still runs', async () => {
    const s = exec(['--key', KEY, '--', 'for i in 1 2 3 4; do echo tick$i; sleep 0.4; done']);
    await s.waitOut(/tick1/);
    const firstAt = s.stdout.find((c) => c.text.includes('tick1'))!.at;
    const { code, at } = await s.exited;
    expect(code).toBe(0);
    expect(at - firstAt).toBeGreaterThan(900); // three more sleeps of 0.4 s came after tick1
    expect(s.out()).toBe('tick1\ntick2\ntick3\ntick4\n'); // \r\n -> \n on a pipe, nothing else added
  });

  it('takes the key from SESSION_API_KEY, and says so when it is wrong (125)', async () => {
    expect((await finished(exec(['--', 'echo from-env'], { SESSION_API_KEY: KEY }))).out).toBe('from-env\n');
    const wrong = await finished(exec(['--', 'echo never'], { SESSION_API_KEY: 'wrong' }));
    expect(wrong.code).toBe(125);
    expect(wrong.out).toBe('');
    expect(wrong.err).toMatch(/SESSION_API_KEY/);
  });

  it('keeps state per session, and passes flag-like words of the command through', async () => {
    expect((await finished(exec(['--key', KEY, '--session', 'cli-a', '--', 'cd /tmp && export X=persisted']))).code).toBe(0);
    expect((await finished(exec(['--key', KEY, '--session', 'cli-a', '--', 'echo "$PWD $X"']))).out).toBe('/tmp persisted\n');
    const flags = await finished(exec(['--key', KEY, '--', 'echo', '-v', '--help']));
    expect(flags).toMatchObject({ code: 0, out: '-v --help\n' });
  });

  it('exits 124 when --timeout elapses (the command keeps running), then 125 while the session is busy', async () => {
    const timedOut = await finished(exec(['--key', KEY, '--session', 'cli-t', '--timeout', '1', '--', 'echo started; sleep 5']));
    expect(timedOut.code).toBe(124);
    expect(timedOut.out).toBe('started\n');
    expect(timedOut.err).toMatch(/timed out after 1 seconds; it keeps running in session "cli-t"/);
    const busy = await finished(exec(['--key', KEY, '--session', 'cli-t', '--', 'echo next']));
    expect(busy.code).toBe(125);
    expect(busy.err).toMatch(/still running an earlier command/);
  });

  it('turns Ctrl-C into C-c for the command', async () => {
    const s = exec(['--key', KEY, '--session', 'cli-c', '--', 'echo started; sleep 15; echo not-reached']);
    await s.waitOut(/started/);
    s.proc.kill('SIGINT');
    const r = await finished(s);
    expect(r.code).toBe(130);
    expect(r.out).not.toContain('not-reached');
    expect(r.err).toContain('C-c sent');
  });

  it('refuses a missing command with a usage error (2)', async () => {
    const r = await finished(exec(['--key', KEY]));
    expect(r.code).toBe(2);
    expect(r.err).toContain("exec needs a command");
    expect(r.err).toContain("Try 'runtime-client --help'");
  });

  it('reports an unreachable server (125)', async () => {
    const r = await finished(cli(['exec', '--url', 'http://127.0.0.1:1', '--key', 'k', '--', 'true']));
    expect(r.code).toBe(125);
    expect(r.err).toMatch(/^runtime-client: /);
  }, 120_000);
});

const BASE = 'rc-test/busybox:1';
const hasEngine = requireEngine();

describe.runIf(hasEngine)('runtime-client run | ps | stop (Docker)', () => {
  const sessions: string[] = [];
  const newSession = () => {
    const id = `rcli-${randomBytes(3).toString('hex')}`;
    sessions.push(id);
    return id;
  };
  beforeAll(() => {
    execFileSync('bash', [join(root, 'test/images/build.sh'), 'busybox'], { stdio: 'ignore', timeout: 600_000 });
  }, 600_000);
  afterAll(() => {
    if (!engineAvailable()) return;
    for (const id of sessions) {
      try {
        execFileSync('docker', ['rm', '-f', `runtime-client-${id}`], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
  });

  it('run prints URL and key and stays attached; exec works on it; ps lists it; Ctrl-C removes it', async () => {
    const id = newSession();
    const run = cli(['run', '--base-image', BASE, '--session-id', id]);
    const [, url] = await run.waitOut(/^url\s+(\S+)$/m, 120_000);
    const [, key] = await run.waitOut(/^key\s+(\S+)$/m);
    expect(run.err()).toMatch(/ready/);

    const r = await finished(cli(['exec', '--url', url, '--key', key, '--', 'echo in-busybox; (exit 7)']));
    expect(r).toMatchObject({ code: 7, out: 'in-busybox\n' });

    const ps = await finished(cli(['ps']));
    expect(ps.code).toBe(0);
    expect(ps.out.split('\n')[0]).toMatch(/^SESSION\s+CONTAINER\s+IMAGE\s+MODE\s+STATE\s+URL$/);
    expect(ps.out).toMatch(new RegExp(`^${id}\\s+[0-9a-f]{12}\\s+${BASE}\\s+build\\s+running\\s+${url}$`, 'm'));
    expect((await finished(cli(['ps', '-q']))).out.split('\n')).toContain(id);

    run.proc.kill('SIGINT');
    expect((await run.exited).code).toBe(0);
    expect((await finished(cli(['ps', '-q']))).out.split('\n')).not.toContain(id);
  }, 180_000);

  it('stop removes a runtime; the attached run notices and exits 1', async () => {
    const id = newSession();
    const run = cli(['run', '--base-image', BASE, '--session-id', id, '--mode', 'mount']);
    await run.waitOut(/^key\s+\S+$/m, 120_000);
    const stop = await finished(cli(['stop', id]));
    expect(stop).toMatchObject({ code: 0, out: `${id}\n` });
    expect((await run.exited).code).toBe(1);
    expect(run.err()).toContain(`runtime-client-${id} was removed`);
    const again = await finished(cli(['stop', id]));
    expect(again.code).toBe(1);
    expect(again.err).toContain(`cannot stop ${id}`);
  }, 180_000);
});
