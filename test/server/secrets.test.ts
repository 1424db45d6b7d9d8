// Issue 10, item 4: the API key is not in /proc/<server pid>/environ (nor anywhere the shell can
// read an environment), for the plain server and the single executable; and a server whose shells
// run as its own user says so, once, at start.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, listenedOn, startServer, waitAlive, type TestServer } from '../helpers/server.js';

const ROOT = join(import.meta.dirname, '..', '..');
const isRoot = process.getuid?.() === 0;
const SAME_USER = "the shells run as the server's own user: the sandbox user can reach the server (signal it, trace it, read its memory); --username keeps them apart";

/** A key no other test's server holds, so a scan of every process finds only ours. */
const newKey = () => `key-${randomBytes(12).toString('hex')}`;
const environ = (pid: number) => readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0');

/**
 * A bash command printing the path of every /proc/N/environ that holds `key`, after a process
 * started with the key in its environment (the proof that the scan finds one), then `scanned`.
 * The key is split in two so that it is in no command line.
 */
function scanCommand(key: string): string {
  const [a, b] = [key.slice(0, 10), key.slice(10)];
  return [
    `a='${a}'; b='${b}'`,
    `LEAK="$a$b" sleep 30 & decoy=$!`,
    'sleep 0.2',
    'for f in /proc/[0-9]*/environ; do grep -qsF -e "$a$b" "$f" && echo "holds the key: $f"; done',
    'echo "decoy: /proc/$decoy/environ"; kill $decoy; echo scanned',
  ].join('; ');
}

function expectOnlyDecoy(content: string): void {
  const lines = content.trim().split('\n');
  expect(lines.at(-1)).toBe('scanned');
  const decoy = lines.find((l) => l.startsWith('decoy: '))!.slice('decoy: '.length);
  const holders = lines.filter((l) => l.startsWith('holds the key: ')).map((l) => l.slice('holds the key: '.length));
  expect(holders).toEqual([decoy]);
}

describe('node dist/runtime-client.mjs', () => {
  const key = newKey();
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ key });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('has no SESSION_API_KEY in /proc/<pid>/environ, keeps the other variables, and still requires the key', async () => {
    const env = environ(server.proc.pid!);
    expect(env.filter((e) => e.startsWith('SESSION_API_KEY='))).toEqual([]);
    expect(env.join('\n')).not.toContain(key);
    expect(env).toContain(`PATH=${process.env.PATH}`);
    expect((await server.execute({ action: 'run', args: { command: 'true' } }, { key: null })).status).toBe(401);
    expect((await server.run('echo ok')).content).toBe('ok\n');
  });

  it("shows the shell no key: not in its parent's environ, not in its own, not in any process's", async () => {
    const obs = await server.run(`tr '\\0' '\\n' </proc/$PPID/environ; echo ---; env`);
    expect(obs.content).toContain('PATH='); // the parent's environ was read
    expect(obs.content).not.toContain('SESSION_API_KEY');
    expect(obs.content).not.toContain(key);
    expectOnlyDecoy((await server.run(scanCommand(key))).content);
  });

  it('warns once that the sandbox user can reach the server', () => {
    expect(server.logs.filter((l) => l.msg === SAME_USER)).toEqual([expect.objectContaining({ level: 40, user: expect.any(String) })]);
  });
});

describe.runIf(isRoot)('the same-user warning, as root', () => {
  it('is given for --username naming the server’s own user, and not for --username nobody', async () => {
    for (const [username, count] of [['root', 1], ['nobody', 0]] as const) {
      const server = await startServer({ args: ['--username', username, '--working-dir', '/tmp'] });
      try {
        expect(server.logs.filter((l) => l.msg === SAME_USER), `--username ${username}`).toHaveLength(count);
        expect((await server.run('id -un')).content).toBe(`${username}\n`);
      } finally {
        await server.stop();
      }
    }
  });
});

describe.runIf(isRoot)('without /proc', () => {
  it('warns that the key could not be removed, and serves', async () => {
    // A private mount namespace whose /proc is an empty tmpfs: the scrub has nothing to write through.
    const key = newKey();
    const work = mkdtempSync(join(tmpdir(), 'rc-noproc-'));
    const script = `mount -t tmpfs none /proc && exec "$0" "$@"`;
    const started = await startLogged('unshare', ['-m', 'sh', '-c', script, process.execPath, CLI, '--port', '0', '--host', '127.0.0.1', '--working-dir', work], {
      ...process.env,
      SESSION_API_KEY: key,
    });
    try {
      const warning = started.logs.find((l) => typeof l.msg === 'string' && l.msg.startsWith('could not remove SESSION_API_KEY'));
      expect(warning?.msg).toBe(`could not remove SESSION_API_KEY from /proc/${started.pid}/environ (ENOENT): processes of the server's user can read it there`);
      expect(warning?.level).toBe(40);
      const res = await fetch(`http://127.0.0.1:${started.port}/alive`);
      expect(res.status).toBe(200);
    } finally {
      await started.stop();
      rmSync(work, { recursive: true, force: true });
    }
  });
});

describe('the single executable (dist/runtime-client/bin/runtime-client)', () => {
  const DIR = join(ROOT, 'dist', 'runtime-client');
  beforeAll(() => {
    const r = spawnSync('npm', ['run', 'bundle', '--silent'], { cwd: ROOT, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`npm run bundle failed:\n${r.stdout}${r.stderr}`);
  }, 900_000);

  it('has no SESSION_API_KEY in /proc/<pid>/environ, and the shell finds the key nowhere', async () => {
    const key = newKey();
    const work = mkdtempSync(join(tmpdir(), 'rc-sea-'));
    // Run through the bundle's own loader: the executable's interpreter is /opt/runtime-client/lib/….
    const loader = join(DIR, 'lib', 'ld-linux-x86-64.so.2');
    const bin = join(DIR, 'bin', 'runtime-client');
    const started = await startLogged(loader, [bin, '--port', '0', '--host', '127.0.0.1', '--working-dir', work], { ...process.env, SESSION_API_KEY: key, HOME: work });
    try {
      const env = environ(started.pid);
      expect(env.filter((e) => e.startsWith('SESSION_API_KEY='))).toEqual([]);
      expect(env).toContain(`HOME=${work}`);
      const run = async (command: string) => {
        const res = await fetch(`http://127.0.0.1:${started.port}/execute_action`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-session-api-key': key },
          body: JSON.stringify({ action: { action: 'run', args: { command } } }),
        });
        expect(res.status).toBe(200);
        return (await res.json()).content as string;
      };
      const parent = await run(`tr '\\0' '\\n' </proc/$PPID/environ; env`);
      expect(parent).toContain('HOME=');
      expect(parent).not.toContain(key);
      expectOnlyDecoy(await run(scanCommand(key)));
    } finally {
      await started.stop();
      rmSync(work, { recursive: true, force: true });
    }
  });
});

interface Started {
  pid: number;
  port: number;
  logs: Record<string, any>[];
  stop(): Promise<void>;
}

/** Starts a server process and waits until it logs `listening` (and /alive answers). */
async function startLogged(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<Started> {
  const proc: ChildProcess = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const logs: Record<string, any>[] = [];
  const port = await listenedOn(proc, logs);
  await waitAlive(`http://127.0.0.1:${port}`);
  return {
    pid: proc.pid!,
    port,
    logs,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}
