// --await-config and POST /configure, on real servers (port 0): before, the server answers /alive
// and nothing else; a bad body is a 400 naming its field and loses nothing; the one good
// configure gives the shells their environment and working dir and the server its new key; a
// second one is 409. Without the flag /configure is an unknown route. Users through /configure
// are in test/docker/users.test.ts (they write /etc/passwd). A configured server, killed and
// started again with the same flags, comes back configured from its state dir (each server here
// has its own, under the test's temporary directory: never the host's /run); what a hostile
// sandbox could plant there is refused with a warning, and the server waits as if never configured.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { CLI, KEY, connectWs, startServer, type TestServer } from '../helpers/server.js';

const NEW_KEY = 'n'.repeat(24) + '-new-key-0123456789';
const servers: TestServer[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A fresh state dir's path (not made: the server makes it), in a temporary directory the test removes. */
function freshStateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'rc-configure-state-'));
  dirs.push(dir);
  return join(dir, 'state');
}

async function awaiting(args: string[] = [], stateDir = freshStateDir(), opts: { key?: string; skipWait?: boolean } = {}): Promise<TestServer> {
  const server = await startServer({ args: ['--await-config', ...args], skipWait: opts.skipWait ?? true, env: { RUNTIME_CLIENT_STATE_DIR: stateDir }, key: opts.key });
  servers.push(server);
  return server;
}

async function configure(server: TestServer, body: unknown, key: string | null = KEY): Promise<{ status: number; body: any }> {
  const res = await fetch(`${server.url}/configure`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { 'x-session-api-key': key } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

async function get(server: TestServer, path: string, key: string | null = KEY): Promise<{ status: number; body: any }> {
  const res = await fetch(`${server.url}${path}`, { headers: key ? { 'x-session-api-key': key } : {} });
  return { status: res.status, body: await res.json() };
}

/** The status a WebSocket upgrade is refused with (and the body), or 101 when it opens. */
function upgradeStatus(server: TestServer, key: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${server.port}/ws`, { headers: { 'x-session-api-key': key } });
    socket.once('open', () => {
      socket.close();
      resolve({ status: 101, body: '' });
    });
    socket.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    socket.once('error', (e) => reject(e));
  });
}

describe('before /configure', () => {
  it('answers /alive 200 at once, every other route 503 not_configured, and starts no shell', async () => {
    const server = await awaiting();
    expect(await get(server, '/alive', null)).toEqual({ status: 200, body: { status: 'ok', version: expect.any(String) } });
    for (const path of ['/server_info', '/sessions', '/actions/x', '/no-such-route']) {
      const r = await get(server, path);
      expect(r.status, path).toBe(503);
      expect(r.body.error.code, path).toBe('not_configured');
    }
    const action = await server.execute({ action: 'run', args: { command: 'echo hi' } });
    expect(action.status).toBe(503);
    expect(action.body.error.code).toBe('not_configured');
    expect(server.logs.some((l) => l.msg === 'default session ready')).toBe(false);
    expect(server.logs.find((l) => l.msg === 'listening')).toMatchObject({ awaitingConfig: true });
  });

  it('refuses the WebSocket with 503 not_configured', async () => {
    const server = await awaiting();
    const r = await upgradeStatus(server, KEY);
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body).error.code).toBe('not_configured');
  });

  it('refuses /configure without the start key (401), and the new key is not taken by that', async () => {
    const server = await awaiting();
    expect((await configure(server, { api_key: NEW_KEY }, null)).status).toBe(401);
    expect((await configure(server, { api_key: NEW_KEY }, 'wrong-key')).status).toBe(401);
    expect((await configure(server, { api_key: NEW_KEY })).status).toBe(200);
  });
});

describe('a bad /configure body: 400 naming the field, and the server keeps waiting', () => {
  const missing = join(tmpdir(), 'rc-configure-no-such-dir');
  const cases: [string, unknown, string][] = [
    ['no api_key', {}, 'api_key'],
    ['a short api_key', { api_key: 'short' }, 'api_key'],
    ['an api_key with a space', { api_key: `${NEW_KEY} x` }, 'api_key'],
    ['an api_key too long', { api_key: 'k'.repeat(513) }, 'api_key'],
    ['an environment value that is not a string', { api_key: NEW_KEY, environment: { A: 1 } }, 'environment.A'],
    ['an environment name that is not one', { api_key: NEW_KEY, environment: { 'A-B': 'x' } }, 'environment.A-B'],
    ['the reserved SESSION_API_KEY', { api_key: NEW_KEY, environment: { SESSION_API_KEY: 'x' } }, 'environment.SESSION_API_KEY'],
    ['a private variable of the server', { api_key: NEW_KEY, environment: { NO_CHANGE_TIMEOUT_SECONDS: '1' } }, 'environment.NO_CHANGE_TIMEOUT_SECONDS'],
    ['a relative working_dir', { api_key: NEW_KEY, working_dir: 'relative/dir' }, 'working_dir'],
    ['a working_dir that does not exist', { api_key: NEW_KEY, working_dir: missing }, 'working_dir'],
    ['a username that is not a name', { api_key: NEW_KEY, username: 'Bad:Name' }, 'username'],
    ['a username not in /etc/passwd', { api_key: NEW_KEY, username: 'no-such-user-rc' }, 'username'],
    ['a user_id without username', { api_key: NEW_KEY, user_id: 1000 }, 'user_id'],
    ['a negative user_id', { api_key: NEW_KEY, username: 'x', user_id: -1 }, 'user_id'],
    ['a user_id past 2^31-2', { api_key: NEW_KEY, username: 'x', user_id: 2 ** 31 - 1 }, 'user_id'],
    ['a fractional user_id', { api_key: NEW_KEY, username: 'x', user_id: 1.5 }, 'user_id'],
    ['an unknown field', { api_key: NEW_KEY, workdir: '/tmp' }, ''],
  ];

  it('for each bad field; then a good configure still works', async () => {
    const server = await awaiting();
    for (const [what, body, field] of cases) {
      const r = await configure(server, body);
      expect(r.status, what).toBe(400);
      expect(r.body.error.code, what).toBe('bad_request');
      expect(r.body.error.details.issues.map((i: { path: string }) => i.path), what).toContain(field);
      expect((await get(server, '/server_info')).body.error.code, what).toBe('not_configured');
    }
    const bad = await fetch(`${server.url}/configure`, { method: 'POST', headers: { 'x-session-api-key': KEY }, body: '{"api_key": ' });
    expect(bad.status).toBe(400);
    expect((await configure(server, { api_key: NEW_KEY })).body).toEqual({ status: 'ready' });
  });
});

describe('a good /configure', () => {
  it('gives the shells the environment and working dir, answers once the default session is ready, and swaps the key', async () => {
    const server = await awaiting();
    const dir = mkdtempSync(join(tmpdir(), 'rc-configure-wd-'));
    dirs.push(dir);
    const r = await configure(server, { api_key: NEW_KEY, environment: { RC_GREETING: 'hello there', PATH: `/rc-test-bin:${process.env.PATH}` }, working_dir: dir });
    expect(r).toEqual({ status: 200, body: { status: 'ready' } });
    expect((await get(server, '/alive', null)).status).toBe(200);

    const run = await server.execute({ action: 'run', args: { command: 'echo "$RC_GREETING"; pwd; echo "${PATH%%:*}"; echo "${SESSION_API_KEY-unset}"' } }, { key: NEW_KEY });
    expect(run.status).toBe(200);
    expect(run.body.content).toBe(`hello there\n${dir}\n/rc-test-bin\nunset\n`);

    const cell = await server.execute({ action: 'run_ipython', args: { code: 'import os; print(os.environ["RC_GREETING"])', include_extra: false } }, { key: NEW_KEY });
    expect(cell.status).toBe(200);
    expect(cell.body.content.trim()).toBe('hello there');

    // The start key is refused from now on, the new one is required, over HTTP and the WebSocket.
    expect((await server.execute({ action: 'run', args: { command: 'true' } }, { key: KEY })).status).toBe(401);
    expect((await get(server, '/server_info', null)).status).toBe(401);
    expect((await get(server, '/server_info', NEW_KEY)).status).toBe(200);
    expect((await upgradeStatus(server, KEY)).status).toBe(401);
    const ws = await connectWs(`ws://127.0.0.1:${server.port}/ws`, NEW_KEY);
    ws.send({ type: 'execute', id: 'ws-1', action: { action: 'run', args: { command: 'echo "$RC_GREETING"' } } });
    const obs = await ws.waitFor((f) => f.type === 'observation');
    expect(obs.observation.content).toBe('hello there\n');
    await ws.close();

    // The log says which variables, never their values nor a key.
    const text = JSON.stringify(server.logs);
    expect(server.logs.find((l) => l.msg === 'configured')).toMatchObject({ environment: ['RC_GREETING', 'PATH'], workingDir: dir });
    expect(text).not.toContain('hello there');
    expect(text).not.toContain(NEW_KEY);
    expect(text).not.toContain(KEY);
  });

  it('is taken once: a second /configure answers 409 already_configured with either key, 401 with neither', async () => {
    const server = await awaiting();
    expect((await configure(server, { api_key: NEW_KEY })).status).toBe(200);
    for (const key of [KEY, NEW_KEY]) {
      const again = await configure(server, { api_key: 'z'.repeat(40) }, key);
      expect(again.status).toBe(409);
      expect(again.body.error.code).toBe('already_configured');
    }
    expect((await configure(server, { api_key: 'z'.repeat(40) }, 'wrong')).status).toBe(401);
    expect((await get(server, '/server_info', NEW_KEY)).status).toBe(200);
    expect((await get(server, '/server_info', 'z'.repeat(40))).status).toBe(401);
  });

  it('racing: of two /configure sent at once, one is 200 and the other 409, and the winner’s key holds', async () => {
    const server = await awaiting();
    const keys = ['a'.repeat(40), 'b'.repeat(40)];
    const answers = await Promise.all(keys.map((k) => configure(server, { api_key: k })));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409]);
    const winner = keys[answers.findIndex((a) => a.status === 200)]!;
    const loser = keys.find((k) => k !== winner)!;
    expect((await get(server, '/server_info', winner)).status).toBe(200);
    expect((await get(server, '/server_info', loser)).status).toBe(401);
  });

  it('takes --working-dir from the start when the body has none', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rc-configure-flag-wd-'));
    dirs.push(dir);
    const server = await awaiting(['--working-dir', dir]);
    expect((await configure(server, { api_key: NEW_KEY })).status).toBe(200);
    const run = await server.execute({ action: 'run', args: { command: 'pwd' } }, { key: NEW_KEY });
    expect(run.body.content).toBe(`${dir}\n`);
  });
});

describe('a /configure whose shell cannot start', () => {
  it('answers 500 internal saying so, and the server waits again: the next /configure is tried anew', async () => {
    const server = await awaiting(['--shell', '/bin/false']);
    for (let attempt = 0; attempt < 2; attempt++) {
      const r = await configure(server, { api_key: NEW_KEY });
      expect(r.status, `attempt ${attempt}`).toBe(500);
      expect(r.body.error.code).toBe('internal');
      expect(r.body.error.message).toMatch(/the session could not start: the shell \/bin\/false exited/);
      expect((await get(server, '/server_info')).body.error.code).toBe('not_configured');
      expect((await get(server, '/alive', null)).status).toBe(200);
    }
  });
});

describe('a /configure whose shell never reaches its prompt', () => {
  it('answers 500 after --shell-start-timeout, ends that shell, and the server waits again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rc-configure-hang-'));
    dirs.push(dir);
    chmodSync(dir, 0o755);
    // Its command line (the script's unique path, then bash's flags) is what pgrep looks for afterwards.
    const shell = join(dir, 'hanging-shell');
    writeFileSync(shell, '#!/bin/sh\nwhile :; do sleep 1; done\n', { mode: 0o755 });
    const server = await awaiting(['--shell', shell, '--shell-start-timeout', '1']);
    const r = await configure(server, { api_key: NEW_KEY });
    expect(r.status).toBe(500);
    expect(r.body.error.message).toContain('did not reach its first prompt within 1 s (--shell-start-timeout)');
    expect((await get(server, '/server_info')).body.error.code).toBe('not_configured');
    expect(spawnSync('pgrep', ['-f', `${shell} --noediting`]).status, 'the hanging shell is gone').toBe(1);
  });
});

describe('without --await-config', () => {
  it('POST /configure is an unknown route: 404', async () => {
    const server = await startServer();
    servers.push(server);
    const r = await configure(server, { api_key: NEW_KEY });
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('not_found');
  });
});

describe('the flags', () => {
  const cli = (args: string[]) => spawnSync(process.execPath, [CLI, '--port', '0', '--host', '127.0.0.1', ...args], { encoding: 'utf8', timeout: 5000, env: { ...process.env, SESSION_API_KEY: KEY } });

  it('--help documents --user-id and --await-config', () => {
    const help = spawnSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' }).stdout;
    expect(help).toMatch(/--user-id N +with --username: create NAME with uid N/);
    expect(help).toMatch(/--await-config +bind the port and answer \/alive 200 at once/);
  });

  it.each([
    [['--user-id', '1000'], '--user-id needs --username'],
    [['--username', 'openhands', '--user-id', 'abc'], '--user-id must be an integer from 0 to 2147483646, got "abc"'],
    [['--username', 'openhands', '--user-id=-1'], '--user-id must be an integer'],
    [['--username', 'openhands', '--user-id', '2147483647'], '--user-id must be an integer from 0 to 2147483646'],
    [['--username', 'Bad:Name', '--user-id', '1000'], '--username "Bad:Name" cannot be created'],
    [['--await-config', '--working-dir', '/no/such/dir-rc'], '--working-dir /no/such/dir-rc does not exist'],
    [['--await-config', '--username', 'no-such-user-rc'], '--username: no user "no-such-user-rc" in /etc/passwd'],
  ])('%j exits 2 naming the flag', (args, message) => {
    const r = cli(args);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain(message);
  });

  it.runIf(process.getuid?.() === 0)('a server that is not root cannot create the user: exit 2 naming --user-id', () => {
    const r = spawnSync(process.execPath, [CLI, '--port', '0', '--host', '127.0.0.1', '--working-dir', '/tmp', '--username', 'rc-no-such-user', '--user-id', '1000'], {
      encoding: 'utf8',
      timeout: 5000,
      uid: 65534,
      gid: 65534,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    });
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain('--user-id: creating user rc-no-such-user needs the server to run as root (it runs as uid 65534)');
  });
});

describe('a configured server started again (its state dir)', () => {
  const isRoot = process.getuid?.() === 0;
  /** The warnings about the saved configuration (not the one every root server without --username gives). */
  const warnings = (server: TestServer) => server.logs.filter((l) => l.level === 40 && /configuration/.test(String(l.msg))).map((l) => String(l.msg));
  /** The warnings once there are `count` (a line logged as the answer is sent may reach the pipe after it). */
  async function warned(server: TestServer, count: number): Promise<string[]> {
    for (let i = 0; i < 200 && warnings(server).length < count; i++) await new Promise((r) => setTimeout(r, 25));
    return warnings(server);
  }
  /** SIGKILLs a server and forgets it (a killed process is not stopped again). */
  async function kill(server: TestServer): Promise<void> {
    servers.splice(servers.indexOf(server), 1);
    expect(await server.stop('SIGKILL')).toBe(null);
  }
  /** Starts, configures, and SIGKILLs a server; returns its state dir, working dir and flags. */
  async function configuredThenKilled(environment: Record<string, string> = { RC_GREETING: 'hello again' }) {
    const stateDir = freshStateDir();
    const flagDir = mkdtempSync(join(tmpdir(), 'rc-configure-flag-'));
    const bodyDir = mkdtempSync(join(tmpdir(), 'rc-configure-body-'));
    dirs.push(flagDir, bodyDir);
    const args = ['--working-dir', flagDir];
    const first = await awaiting(args, stateDir);
    expect((await configure(first, { api_key: NEW_KEY, environment, working_dir: bodyDir })).status).toBe(200);
    await kill(first);
    return { stateDir, args, bodyDir };
  }

  it('comes back configured after SIGKILL: the saved key works, the start key is refused, environment and working dir hold, /configure is 409', async () => {
    const { stateDir, args, bodyDir } = await configuredThenKilled();
    const file = join(stateDir, 'configured.json');
    expect(statSync(stateDir).mode & 0o7777).toBe(0o700);
    expect(statSync(file).mode & 0o7777).toBe(0o600);
    expect(statSync(file).uid).toBe(process.getuid!());

    const again = await awaiting(args, stateDir, { skipWait: false });
    expect(again.logs.find((l) => l.msg === 'listening')).toMatchObject({ restoring: true });
    expect(again.logs.find((l) => l.msg === 'configured')).toMatchObject({ restored: true, workingDir: bodyDir, environment: ['RC_GREETING'] });
    const run = await again.execute({ action: 'run', args: { command: 'echo "$RC_GREETING"; pwd' } }, { key: NEW_KEY });
    expect(run.status).toBe(200);
    expect(run.body.content).toBe(`hello again\n${bodyDir}\n`);
    expect((await again.execute({ action: 'run', args: { command: 'true' } }, { key: KEY })).status).toBe(401);
    expect((await get(again, '/server_info', KEY)).status).toBe(401);
    expect((await upgradeStatus(again, KEY)).status).toBe(401);
    for (const key of [KEY, NEW_KEY]) {
      const r = await configure(again, { api_key: 'z'.repeat(40) }, key);
      expect(r.status).toBe(409);
      expect(r.body.error.code).toBe('already_configured');
    }
    expect(warnings(again)).toEqual([]);
    expect(JSON.stringify(again.logs)).not.toContain(NEW_KEY);
    expect(JSON.stringify(again.logs)).not.toContain('hello again');

    // And again: a restored server killed in turn comes back the same.
    await kill(again);
    const third = await awaiting(args, stateDir, { skipWait: false });
    expect((await third.execute({ action: 'run', args: { command: 'echo "$RC_GREETING"' } }, { key: NEW_KEY })).body.content).toBe('hello again\n');
  });

  it.runIf(isRoot)('keeps the key from another user: the state dir and file cannot be read by uid 65534', async () => {
    const { stateDir } = await configuredThenKilled();
    const asNobody = (cmd: string[]) => spawnSync(cmd[0]!, cmd.slice(1), { uid: 65534, gid: 65534, encoding: 'utf8' });
    const cat = asNobody(['cat', join(stateDir, 'configured.json')]);
    expect(cat.status).not.toBe(0);
    expect(cat.stderr).toContain('Permission denied');
    expect(cat.stdout).toBe('');
    expect(asNobody(['ls', stateDir]).status).not.toBe(0);
    expect(readFileSync(join(stateDir, 'configured.json'), 'utf8')).toContain(NEW_KEY); // what there is to keep
  });

  it('is ignored without --await-config: the server starts with its start key', async () => {
    const { stateDir, args } = await configuredThenKilled();
    const plain = await startServer({ args, env: { RUNTIME_CLIENT_STATE_DIR: stateDir } });
    servers.push(plain);
    expect((await plain.execute({ action: 'run', args: { command: 'echo "${RC_GREETING-unset}"' } }, { key: KEY })).body.content).toBe('unset\n');
    expect((await get(plain, '/server_info', NEW_KEY)).status).toBe(401);
  });

  it('is not used by a server started with another key: a warning, and that server waits for /configure', async () => {
    const { stateDir, args } = await configuredThenKilled();
    const other = 'another-start-key-0123456789';
    const server = await awaiting(args, stateDir, { key: other });
    expect(warnings(server)).toEqual([expect.stringContaining('was saved by a server started with another key')]);
    expect((await get(server, '/server_info', NEW_KEY)).body.error.code).toBe('not_configured');
    expect((await configure(server, { api_key: 'y'.repeat(40) }, other)).status).toBe(200);
  });

  it('a configuration that no longer applies (its working dir removed): a warning, and the server waits for /configure', async () => {
    const { stateDir, args, bodyDir } = await configuredThenKilled();
    rmSync(bodyDir, { recursive: true });
    const server = await awaiting(args, stateDir, { skipWait: false });
    expect(warnings(server)).toEqual([expect.stringMatching(/^the saved configuration could not be applied \(working_dir .* does not exist.*\); the server waits for POST \/configure$/)]);
    expect((await get(server, '/server_info', NEW_KEY)).body.error.code).toBe('not_configured');
    expect((await configure(server, { api_key: 'y'.repeat(40) })).status).toBe(200);
  });

  describe('planted or changed by a program in the sandbox: refused with a warning naming the problem, and the server waits as if never configured', () => {
    let valid = '';
    const outside: string[] = [];
    afterAll(() => outside.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

    /** A copy of a genuine state dir, as `plant` changes it. */
    async function planted(plant: (stateDir: string, file: string) => void): Promise<string> {
      if (!valid) valid = readFileSync(join((await configuredThenKilled()).stateDir, 'configured.json'), 'utf8');
      const stateDir = freshStateDir();
      mkdirSync(stateDir, { mode: 0o700 });
      writeFileSync(join(stateDir, 'configured.json'), valid, { mode: 0o600 });
      plant(stateDir, join(stateDir, 'configured.json'));
      return stateDir;
    }
    /** A directory elsewhere holding a genuine state file: what a link points at. */
    function elsewhere(): string {
      const dir = mkdtempSync(join(tmpdir(), 'rc-configure-target-'));
      outside.push(dir);
      writeFileSync(join(dir, 'configured.json'), valid, { mode: 0o600 });
      return dir;
    }

    const cases: [string, (stateDir: string, file: string) => void, RegExp, boolean?][] = [
      ['the file a symbolic link to a genuine one', (_d, f) => (rmSync(f), symlinkSync(join(elsewhere(), 'configured.json'), f)), /configured\.json is a symbolic link/],
      ['the dir a symbolic link to a genuine one', (d) => (rmSync(d, { recursive: true }), symlinkSync(elsewhere(), d)), /state is a symbolic link/],
      ['the file readable by others (0644)', (_d, f) => chmodSync(f, 0o644), /has mode 0644, not 0600/],
      ['the dir writable by others (0777)', (d) => chmodSync(d, 0o777), /state is writable by group or others/],
      ['its parent writable by others without the sticky bit', (d) => chmodSync(join(d, '..'), 0o777), /is writable by group or others without the sticky bit/],
      ['garbage', (_d, f) => writeFileSync(f, '\x00\x01 not json {'), /configured\.json is not JSON/],
      ['JSON of another shape', (_d, f) => writeFileSync(f, '{"version": 2, "api_key": "x"}'), /does not hold a saved configuration \(version, start_key_sha256, configure, the top\)|does not hold a saved configuration/],
      ['a /configure body that is not one', (_d, f) => writeFileSync(f, JSON.stringify({ ...JSON.parse(valid), configure: { api_key: 'short' } })), /not a valid \/configure body \(api_key\)/],
      ['a body with a reserved variable', (_d, f) => writeFileSync(f, JSON.stringify({ ...JSON.parse(valid), configure: { ...JSON.parse(valid).configure, environment: { SESSION_API_KEY: 'x' } } })), /not a valid \/configure body \(environment\.SESSION_API_KEY\)/],
      ['larger than 1 MiB', (_d, f) => writeFileSync(f, valid + ' '.repeat(2 ** 20)), /is larger than 1048576 bytes/],
      ['a FIFO', (_d, f) => (rmSync(f), spawnSync('mkfifo', ['-m', '600', f])), /is not a regular file/],
      ['a second hard link', (d, f) => linkSync(f, join(d, 'other')), /has 2 hard links/],
      ['the file owned by another uid', (_d, f) => chownSync(f, 65534, 65534), /is owned by uid 65534, not the server's uid 0/, true],
      ['the dir owned by another uid', (d) => chownSync(d, 65534, 65534), /state is owned by uid 65534, not the server's uid 0/, true],
    ];

    it.each(cases)('%s', async (_what, plant, reason, rootOnly) => {
      if (rootOnly && !isRoot) return;
      const stateDir = await planted(plant);
      const server = await awaiting([], stateDir);
      expect(await get(server, '/alive', null)).toMatchObject({ status: 200 });
      const said = warnings(server);
      expect(said).toHaveLength(1);
      expect(said[0]).toMatch(reason);
      expect(said[0]).toMatch(/^the saved configuration is not used: .*; the server waits for POST \/configure$/);
      expect(JSON.stringify(server.logs)).not.toContain(NEW_KEY);
      expect(JSON.stringify(server.logs)).not.toContain('hello again');
      expect((await get(server, '/server_info', NEW_KEY)).body.error.code).toBe('not_configured');
      expect((await configure(server, { api_key: NEW_KEY }, NEW_KEY)).status).toBe(401);
      expect((await configure(server, { api_key: 'y'.repeat(40) })).status).toBe(200);
    });

    it('a planted link is replaced, never written through: its target is untouched by the next save', async () => {
      await planted(() => {}); // sets `valid`
      const target = elsewhere();
      const stateDir = freshStateDir();
      mkdirSync(stateDir, { mode: 0o700 });
      symlinkSync(join(target, 'configured.json'), join(stateDir, 'configured.json'));
      const server = await awaiting([], stateDir);
      expect((await configure(server, { api_key: 'y'.repeat(40) })).status).toBe(200);
      expect(readFileSync(join(target, 'configured.json'), 'utf8')).toBe(valid);
      expect(readFileSync(join(stateDir, 'configured.json'), 'utf8')).toContain('y'.repeat(40));
    });

    it('a state dir planted as a link to another directory: nothing is saved there, /configure still answers 200 with a warning', async () => {
      await planted(() => {});
      const target = mkdtempSync(join(tmpdir(), 'rc-configure-target-'));
      outside.push(target);
      const stateDir = freshStateDir();
      symlinkSync(target, stateDir);
      const server = await awaiting([], stateDir);
      expect((await configure(server, { api_key: 'y'.repeat(40) })).status).toBe(200);
      expect(await warned(server, 2)).toEqual([
        expect.stringMatching(/^the saved configuration is not used: .*state is a symbolic link; the server waits for POST \/configure$/),
        expect.stringMatching(/^the configuration could not be saved \(.*state is a symbolic link\): a restart of this server will come back unconfigured$/),
      ]);
      expect(spawnSync('ls', ['-A', target], { encoding: 'utf8' }).stdout).toBe('');
      expect((await server.execute({ action: 'run', args: { command: 'echo works' } }, { key: 'y'.repeat(40) })).body.content).toBe('works\n');
    });
  });

  it('a state dir that cannot be made: /configure answers 200 (the session works) and warns that a restart comes back unconfigured', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'rc-configure-nodir-'));
    dirs.push(parent);
    writeFileSync(join(parent, 'file'), 'a file where a directory should be');
    const server = await awaiting([], join(parent, 'file', 'state'));
    expect((await configure(server, { api_key: NEW_KEY })).status).toBe(200);
    expect(await warned(server, 2)).toEqual([
      expect.stringMatching(/^the saved configuration is not used: .*file is not a directory; the server waits for POST \/configure$/),
      expect.stringMatching(/^the configuration could not be saved \(.*file is not a directory\): a restart of this server will come back unconfigured$/),
    ]);
    expect((await server.execute({ action: 'run', args: { command: 'echo works' } }, { key: NEW_KEY })).body.content).toBe('works\n');
  });

  it('makes the missing parents of the state dir (an image without /run), and the dir 0700', async () => {
    const root = mkdtempSync(join(tmpdir(), 'rc-configure-parents-'));
    dirs.push(root);
    const stateDir = join(root, 'run', 'runtime-client');
    const server = await awaiting([], stateDir);
    expect((await configure(server, { api_key: NEW_KEY })).status).toBe(200);
    expect(statSync(join(root, 'run')).mode & 0o7777).toBe(0o755);
    expect(statSync(stateDir).mode & 0o7777).toBe(0o700);
    expect(statSync(join(stateDir, 'configured.json')).mode & 0o7777).toBe(0o600);
    expect(spawnSync('ls', ['-A', stateDir], { encoding: 'utf8' }).stdout).toBe('configured.json\n'); // no temporary file left
    await kill(server);
    const again = await awaiting([], stateDir, { skipWait: false });
    expect((await get(again, '/server_info', NEW_KEY)).status).toBe(200);
  });

  it('RUNTIME_CLIENT_STATE_DIR must be an absolute path: exit 2 naming it', () => {
    const r = spawnSync(process.execPath, [CLI, '--port', '0', '--host', '127.0.0.1', '--await-config'], {
      encoding: 'utf8',
      timeout: 5000,
      env: { ...process.env, SESSION_API_KEY: KEY, RUNTIME_CLIENT_STATE_DIR: 'relative/state' },
    });
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain('RUNTIME_CLIENT_STATE_DIR must be an absolute path, got "relative/state"');
  });
});
