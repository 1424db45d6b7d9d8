// RuntimeClient over HTTP against the real server: results as data, ids that make a retry safe.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RuntimeClient, RuntimeError } from '../../client/index.js';
import { KEY, startServer, type TestServer } from '../helpers/server.js';
import { startProxy, type TcpProxy } from './tcp-proxy.js';

const tmp = (name: string) => `/tmp/rc-client-${name}-${process.pid}-${Date.now()}`;

describe('RuntimeClient against the real server', () => {
  let server: TestServer;
  let proxy: TcpProxy;
  let client: RuntimeClient;
  beforeAll(async () => {
    server = await startServer({ env: { MAX_OUTPUT_CHARS: '2000' } });
    proxy = await startProxy(server.port);
    client = new RuntimeClient({ url: server.url, apiKey: KEY });
  });
  afterAll(async () => {
    await client?.close();
    await proxy?.close();
    await server?.stop();
  });

  it('alive(), waitUntilAlive() and serverInfo()', async () => {
    expect(await client.alive()).toBe(true);
    await client.waitUntilAlive({ timeoutMs: 1000 });
    const info = await client.serverInfo();
    expect(info.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(info.sessions.map((s) => s.name)).toContain('default');
    expect(info.resources.memory.rss_bytes).toBeGreaterThan(0);
  });

  it('sessions(), endSession() and resetSession()', async () => {
    await client.run('cd /tmp; export MINE=1', { session: 'managed' });
    expect((await client.sessions()).find((s) => s.name === 'managed')).toMatchObject({ cwd: '/tmp', state: 'idle', busy: false });
    const fresh = await client.resetSession('managed');
    expect(fresh).toMatchObject({ name: 'managed', state: 'idle' });
    expect((await client.run('echo "[${MINE-}]"', { session: 'managed' })).output).toBe('[]\n');
    expect(await client.endSession('managed')).toBe(true);
    expect(await client.endSession('managed')).toBe(false);
    expect((await client.sessions()).map((s) => s.name)).not.toContain('managed');
    await expect(client.resetSession('..')).rejects.toMatchObject({ code: 'bad_action' });
  });

  it('run(): exit codes and the cwd as data', async () => {
    const ok = await client.run('echo hi');
    expect(ok).toMatchObject({ exitCode: 0, output: 'hi\n', timedOut: false, truncated: false });
    expect(ok.durationMs).toBeGreaterThanOrEqual(0);
    expect(ok.observation.observation).toBe('run');
    expect(await client.run('cd /tmp && (exit 3)', { session: 'codes' })).toMatchObject({ exitCode: 3, cwd: '/tmp' });
    expect((await client.run('no-such-command-here', { session: 'codes' })).exitCode).toBe(127);
    expect((await client.run('pwd', { session: 'codes' })).output).toBe('/tmp\n');
  });

  it('run(): a hard timeout is timedOut with exit code -1, and the command keeps running', async () => {
    const r = await client.run('sleep 0.8; echo late', { session: 'slow', timeoutSeconds: 0.3 });
    expect(r).toMatchObject({ exitCode: -1, timedOut: true });
    const rest = await client.run('', { session: 'slow', blocking: true });
    expect(rest).toMatchObject({ exitCode: 0, timedOut: false });
    expect(rest.output).toContain('late');
  });

  it('run(): long output is truncated, and says so', async () => {
    const r = await client.run('seq 1 5000');
    expect(r.truncated).toBe(true);
    expect(r.output.length).toBeLessThan(5000);
  });

  it("run(): an error observation rejects with 'bad_action', the observation as data", async () => {
    const error = await client.run('', { session: 'idle-one' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RuntimeError);
    expect(error).toMatchObject({ code: 'bad_action', message: 'ERROR: No previous running command to retrieve logs from.' });
    expect((error as RuntimeError).data).toMatchObject({ observation: 'error' });
  });

  it("run(): a command refused because the session is busy rejects with 'bad_action'", async () => {
    expect(await client.run('sleep 30', { session: 'busy', timeoutSeconds: 0.2 })).toMatchObject({ exitCode: -1, timedOut: true });
    const error = await client.run('echo never', { session: 'busy' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'bad_action', message: expect.stringContaining('still running an earlier command') });
    const stopped = await client.execute({ action: 'run', args: { command: 'C-c', is_input: true, session: 'busy' } });
    expect(stopped.observation === 'run' && stopped.extras.metadata.exit_code).toBe(130);
  });

  it("a refused action: 'bad_action' with the server's message", async () => {
    const error = await client.execute({ action: 'run', args: { command: 'true', session: 'no spaces allowed' } }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'bad_action' });
    expect((error as RuntimeError).message).toContain('action.args.session');
  });

  it('execute() with a fixed id twice runs the command once', async () => {
    const file = tmp('twice');
    const action = { action: 'run' as const, args: { command: `echo x >> ${file}` } };
    const first = await client.execute(action, { id: `twice-${file}` });
    const second = await client.execute(action, { id: `twice-${file}` });
    expect(second).toEqual(first);
    expect(readFileSync(file, 'utf8')).toBe('x\n');
  });

  it('a connection cut mid-action is retried with the same id: the command still runs once', async () => {
    const file = tmp('cut');
    const via = new RuntimeClient({ url: proxy.url, apiKey: KEY, backoffMs: 20 });
    try {
      const before = proxy.connections;
      const pending = via.run(`echo x >> ${file}; sleep 0.5; echo done`);
      await new Promise((r) => setTimeout(r, 200));
      proxy.dropAll();
      const r = await pending;
      expect(r).toMatchObject({ exitCode: 0, output: 'done\n' });
      expect(proxy.connections - before).toBeGreaterThanOrEqual(2);
      expect(readFileSync(file, 'utf8')).toBe('x\n');
    } finally {
      await via.close();
    }
  });

  it("a wrong key: 'unauthorized'", async () => {
    const wrong = new RuntimeClient({ url: server.url, apiKey: 'wrong' });
    try {
      await expect(wrong.run('true')).rejects.toMatchObject({ code: 'unauthorized' });
      await expect(wrong.serverInfo()).rejects.toMatchObject({ code: 'unauthorized' });
      expect(await wrong.alive()).toBe(true);
    } finally {
      await wrong.close();
    }
  });
});
