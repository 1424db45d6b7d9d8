// `runtime-client run | ps | stop --api URL` from the built CLI against a real runtime API service
// on the real Docker engine: help and usage errors (exit 2, nothing created), a detached and an
// attached run, ps (table, -q, --json, --status), stop, the key from a file or the environment.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareImages, requireEngine } from '../docker/engine.js';
import { startApiService, type ApiService } from '../helpers/api-service.js';
import { HOST_CLI } from '../helpers/server.js';

const IMAGE = 'rc-test/bookworm:1';
const CLI = HOST_CLI;
// Every session id this file uses, so that afterAll removes their containers whatever failed.
const sessions = new Set<string>();
const newSessionId = (what: string) => {
  const id = `rct-${what}-${randomBytes(3).toString('hex')}`;
  sessions.add(id);
  return id;
};

function cli(args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 120_000): Promise<{ code: number; out: string; err: string }> {
  const full = { ...process.env, ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete full[k];
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: full, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, out, err) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, out, err });
    });
  });
}

/** Each command with --api and every flag it takes; its --help must list them all with their defaults. */
const FLAGS: Record<string, string[]> = {
  run: ['--api URL', '--api-key-file F', '--session-id ID', '-e, --env KEY=VALUE', '--ttl SECONDS', '--idle-timeout SECONDS', '--cpus N', '--memory-mb N', '-d, --detach', '-h, --help'],
  ps: ['--api URL', '--api-key-file F', '--status S', '--json', '-q, --quiet', '-h, --help'],
  stop: ['--api URL', '--api-key-file F', '-h, --help'],
};

describe('run, ps and stop --api: help and usage errors', () => {
  it.each(Object.keys(FLAGS))('%s --api URL --help lists every flag it takes, with its default', async (name) => {
    const r = await cli([name, '--api', 'http://127.0.0.1:1', '--help']);
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(r.out.split('\n')[0]).toMatch(new RegExp(`^Usage: runtime-client ${name} --api URL `));
    const lines = r.out.split('\n').filter((l) => /^ {2}-/.test(l));
    expect(lines.map((l) => l.trim().split(/ {2,}/)[0])).toEqual(FLAGS[name]);
    for (const flag of FLAGS[name]!.filter((f) => f !== '-h, --help')) {
      const entry = r.out.slice(r.out.indexOf(`  ${flag}`)).split(/\n {2}-/)[0];
      expect(entry, `${name} ${flag}`).toMatch(/\(default|\(required\)/);
    }
    // The Docker command's own help points at it, and so does the global help.
    expect((await cli([name, '--help'])).out).toContain(`runtime-client ${name} --api URL --help`);
  });

  it('the global help names the --api forms', async () => {
    const r = await cli(['--help']);
    expect(r.out).toContain('runtime-client run --api URL');
    expect(r.out).toContain('ps --api URL and stop --api URL ID');
  });

  it.each([
    [['run', '--api', 'http://127.0.0.1:1'], 'run --api needs an IMAGE'],
    [['run', '--api', 'http://127.0.0.1:1', 'a', 'b'], 'run --api takes one IMAGE, got 2: a b'],
    [['run', '--api', 'not a url', IMAGE], '--api must be an http: or https: URL, got "not a url"'],
    [['run', '--api', 'http://127.0.0.1:1', '--ttl', 'soon', IMAGE], '--ttl must be a positive integer, got "soon"'],
    [['run', '--api', 'http://127.0.0.1:1', '--cpus', '0', IMAGE], '--cpus must be a positive number, got "0"'],
    [['run', '--api', 'http://127.0.0.1:1', '-e', 'NOEQUALS', IMAGE], '--env takes KEY=VALUE, got "NOEQUALS"'],
    [['run', '--api', 'http://127.0.0.1:1', '--base-image', IMAGE], 'unknown flag --base-image'],
    [['run', '--api', 'http://127.0.0.1:1', '--api-key-file', '/no/such/file', IMAGE], '--api-key-file: cannot read /no/such/file: ENOENT'],
    [['run', '--api', 'http://127.0.0.1:1', '-e', 'SESSION_API_KEY=x', IMAGE], 'env.SESSION_API_KEY is set by the runtime API and cannot be given'],
    [['ps', '--api', 'http://127.0.0.1:1', '--status', 'gone'], '--status must be running, paused or stopped, got "gone"'],
    [['stop', '--api', 'http://127.0.0.1:1'], 'stop --api needs at least one runtime id or session id'],
    [['stop', '--api', 'http://127.0.0.1:1', '--keep', 'rt-1'], '--keep cannot be used with --api'],
    [['ps', '--api'], '--api needs a value'],
  ])('%j exits 2: %s', async (args, message) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toContain(`runtime-client ${args[0]}: ${message}`);
    expect(r.err).toContain(`Try 'runtime-client ${args[0]} --help'.`);
  });

  it('no service at the URL: exit 1 with one sentence', async () => {
    const r = await cli(['ps', '--api', 'http://127.0.0.1:1']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^runtime-client: GET \/list on the runtime API: http:\/\/127\.0\.0\.1:1 refused the connection\n$/);
  });
});

const hasEngine = requireEngine();

describe.runIf(hasEngine)('run, ps and stop against a real runtime API', () => {
  let service: ApiService;
  let dir: string;
  let keyFile: string;
  const api = () => ['--api', service.url, '--api-key-file', keyFile];
  const list = async () => {
    const res = await fetch(`${service.url}/list`, { headers: { 'x-api-key': service.key! } });
    return ((await res.json()) as { runtimes: { runtime_id: string; session_id: string; status: string }[] }).runtimes;
  };

  beforeAll(async () => {
    prepareImages('bookworm');
    service = await startApiService();
    dir = mkdtempSync(join(tmpdir(), 'rc-remote-cli-'));
    keyFile = join(dir, 'api-key');
    writeFileSync(keyFile, `${service.key}\n`, { mode: 0o600 });
  }, 900_000);

  afterAll(async () => {
    await service?.close(sessions);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('usage errors create nothing on the service', async () => {
    await cli(['run', ...api(), '--ttl', 'soon', IMAGE]);
    await cli(['run', ...api(), '-e', 'SESSION_API_KEY=x', IMAGE]);
    expect(await list()).toEqual([]);
  });

  describe('a detached run, then ps and stop', () => {
    const sessionId = newSessionId('cli');
    let runtimeId: string;
    let url: string;
    let key: string;

    it('run -d prints the session, runtime id, url and key, and leaves the runtime running', async () => {
      const r = await cli(['run', ...api(), '-d', '--session-id', sessionId, '-e', 'GREETING=hello there', '-e', 'NO_CHANGE_TIMEOUT_SECONDS=2', '--ttl', '600', '--cpus', '0.5', '--memory-mb', '512', IMAGE]);
      expect(r.err).not.toContain(service.key!);
      expect(r.code).toBe(0);
      const fields = Object.fromEntries(r.out.trim().split('\n').map((l) => l.split(/\s+/)));
      expect(fields.session).toBe(sessionId);
      expect(fields.runtime).toMatch(/^rt-[0-9a-f]{24}$/);
      runtimeId = fields.runtime;
      url = fields.url;
      key = fields.key;
      expect(url).toBe(`${service.url}/r/${runtimeId}`);
      expect(r.err).toContain('request:');
      expect(r.err).toContain(`runtime-client stop --api ${service.url} ${runtimeId}`);
      const runtimes = await list();
      expect(runtimes.map((x) => [x.runtime_id, x.status])).toEqual([[runtimeId, 'running']]);
      // What it printed reaches the runtime, with the environment it was given.
      const exec = await cli(['exec', '--url', url, '--key', key, '--', 'echo "$GREETING"']);
      expect(exec).toMatchObject({ code: 0, out: 'hello there\n' });
    });

    it('ps --api lists it as a table, -q as ids, --json as objects, --status filters', async () => {
      const table = await cli(['ps', ...api()]);
      expect(table.code).toBe(0);
      const [header, ...rows] = table.out.trim().split('\n');
      expect(header!.split(/\s+/)).toEqual(['RUNTIME', 'SESSION', 'IMAGE', 'STATUS', 'POD', 'EXPIRES', 'URL']);
      expect(rows.map((row) => row.split(/\s+/))).toEqual([[runtimeId, sessionId, IMAGE, 'running', 'ready', expect.stringMatching(/^\d{4}-\d\d-\d\dT/), url]]);
      expect(await cli(['ps', ...api(), '-q'])).toMatchObject({ code: 0, out: `${runtimeId}\n` });
      const json = JSON.parse((await cli(['ps', ...api(), '--json'])).out);
      expect(json).toEqual([expect.objectContaining({ id: runtimeId, sessionId, image: IMAGE, state: 'running', cpus: 0.5, memoryMb: 512 })]);
      expect(await cli(['ps', ...api(), '-q', '--status', 'paused'])).toMatchObject({ code: 0, out: '' });
    });

    it('the key may come from env RUNTIME_API_KEY; a wrong one is exit 1 naming the key, never printing it', async () => {
      expect(await cli(['ps', '--api', service.url, '-q'], { RUNTIME_API_KEY: service.key! })).toMatchObject({ code: 0, out: `${runtimeId}\n` });
      const wrong = await cli(['ps', '--api', service.url], { RUNTIME_API_KEY: 'wrong-key' });
      expect(wrong.code).toBe(1);
      expect(wrong.err).toContain('check the runtime API key');
      expect(wrong.err).not.toContain('wrong-key');
      expect((await cli(['ps', '--api', service.url], { RUNTIME_API_KEY: undefined })).code).toBe(1);
    });

    it('stop --api takes the runtime id; an unknown one is exit 1, the others still stopped', async () => {
      const r = await cli(['stop', ...api(), 'rt-000000000000000000000000', runtimeId]);
      expect(r.code).toBe(1);
      expect(r.out).toBe(`${runtimeId}\n`);
      expect(r.err).toContain('cannot stop rt-000000000000000000000000: ');
      expect(r.err).toContain('has no runtime with the id or session id');
      expect((await list()).map((x) => [x.runtime_id, x.status])).toEqual([[runtimeId, 'stopped']]);
      expect(await cli(['ps', ...api(), '-q', '--status', 'running'])).toMatchObject({ code: 0, out: '' });
      // Stopping a stopped runtime is not an error.
      expect(await cli(['stop', ...api(), sessionId])).toMatchObject({ code: 0, out: `${sessionId}\n` });
    });
  });

  it('an attached run stops its runtime on SIGINT', async () => {
    const sessionId = newSessionId('attached');
    const proc = spawn(process.execPath, [CLI, 'run', ...api(), '--session-id', sessionId, IMAGE], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    proc.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    const fields: Record<string, string> = {};
    await new Promise<void>((resolve, reject) => {
      proc.once('exit', () => reject(new Error(`run exited early: ${err}`)));
      createInterface({ input: proc.stdout }).on('line', (line) => {
        const [name, value] = line.split(/\s+/);
        fields[name!] = value!;
        if (name === 'key') resolve();
      });
    });
    await new Promise((r) => setTimeout(r, 300)); // it is attached now (the watcher runs)
    expect((await list()).find((x) => x.runtime_id === fields.runtime)?.status).toBe('running');
    proc.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(err).toContain(`SIGINT: stopping ${fields.runtime}`);
    expect((await list()).find((x) => x.runtime_id === fields.runtime)?.status).toBe('stopped');
  }, 60_000);

  it('an attached run whose runtime the service stops exits 1 saying so', async () => {
    const sessionId = newSessionId('reaped');
    const proc = spawn(process.execPath, [CLI, 'run', ...api(), '--session-id', sessionId, IMAGE], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    proc.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    await new Promise<void>((resolve) => createInterface({ input: proc.stdout }).on('line', (line) => line.startsWith('key') && resolve()));
    expect(await cli(['stop', ...api(), sessionId])).toMatchObject({ code: 0 });
    expect(await exited).toBe(1);
    expect(err).toMatch(/runtime-client: the service stopped rt-[0-9a-f]{24}/);
  }, 60_000);
});
