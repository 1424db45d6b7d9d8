// HTTP surface: auth, validation, body limit, ids and idempotent replay, health and info, logs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, KEY, exitCodeOf, type TestServer } from '../helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server.stop();
});

const post = (body: string, key: string | null = KEY, headers: Record<string, string> = {}) =>
  fetch(`${server.url}/execute_action`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { 'x-session-api-key': key } : {}), ...headers },
    body,
  });

describe('auth', () => {
  it('answers /alive without a key', async () => {
    const res = await fetch(`${server.url}/alive`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok', version: expect.any(String) });
  });

  it.each([
    ['no key', null],
    ['a wrong key', 'wrong-key'],
  ])('refuses %s with 401 on every other route', async (_name, key) => {
    const res = await post(JSON.stringify({ action: { action: 'run', args: { command: 'echo hi' } } }), key);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
    const info = await fetch(`${server.url}/server_info`, { headers: key ? { 'x-session-api-key': key } : {} });
    expect(info.status).toBe(401);
  });

  it('never logs the key', () => {
    expect(JSON.stringify(server.logs)).not.toContain(KEY);
  });
});

describe('validation', () => {
  const expectBadRequest = async (res: Response, field: RegExp) => {
    expect(res.status).toBe(400);
    const body = await res.json();
    expect(body.error.code).toBe('bad_request');
    expect(body.error.message).toMatch(field);
  };

  it('rejects malformed JSON', async () => {
    await expectBadRequest(await post('{"action": {"action": "run",'), /not valid JSON/);
  });

  it('rejects a wrong type naming the field', async () => {
    await expectBadRequest(await post(JSON.stringify({ action: { action: 'run', args: { command: 42 } } })), /action\.args\.command/);
  });

  it('rejects a missing field naming it', async () => {
    await expectBadRequest(await post(JSON.stringify({ action: { action: 'run', args: {} } })), /action\.args\.command/);
    await expectBadRequest(await post(JSON.stringify({ nothing: true })), /^action:/);
  });

  it('rejects an unknown kind and an unknown arg', async () => {
    await expectBadRequest(await post(JSON.stringify({ action: { action: 'fly', args: {} } })), /action\.action: unknown action kind "fly"/);
    await expectBadRequest(await post(JSON.stringify({ action: { action: 'run', args: { command: 'ls', colour: 'red' } } })), /action\.args.*colour/);
  });

  it("answers OpenHands' kinds it does not run with a 200 error observation naming the kind (as OpenHands' own server did)", async () => {
    for (const action of [
      { action: 'browse', args: { url: 'http://127.0.0.1:1/', thought: '', security_risk: -1, return_axtree: false }, timeout: 120 },
      { action: 'browse_interactive', args: { browser_actions: 'noop()', thought: '', browsergym_send_msg_to_user: '', security_risk: -1, return_axtree: false } },
      { action: 'message', args: { content: 'hi', file_urls: null, image_urls: null, wait_for_response: false, security_risk: -1 } },
    ]) {
      const res = await post(JSON.stringify({ action }));
      expect(res.status).toBe(200);
      const body = await res.json();
      expect(body).toMatchObject({ observation: 'error', extras: { error_id: 'unsupported_action' }, success: false });
      expect(body.content).toContain(`"${action.action}"`);
    }
  });

  it("accepts the args OpenHands' edit and read always send (content, start, end, impl_source, view_range)", async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'rc-edit-')), 'f.txt');
    writeFileSync(file, 'one\ntwo\n');
    const edit = await post(
      JSON.stringify({
        action: {
          action: 'edit',
          args: { path: file, command: 'str_replace', file_text: null, old_str: 'two', new_str: 'TWO', insert_line: null, content: '', start: 1, end: -1, thought: '', security_risk: -1, impl_source: 'oh_aci' },
          timeout: 120,
        },
      }),
    );
    expect(edit.status).toBe(200);
    expect((await edit.json()).observation).toBe('edit');
    expect(readFileSync(file, 'utf8')).toBe('one\nTWO\n');
    await expectBadRequest(await post(JSON.stringify({ action: { action: 'read', args: { path: file, impl_source: 'nope' } } })), /action\.args\.impl_source/);
  });

  it('checks the args of a file action like any other', async () => {
    await expectBadRequest(await post(JSON.stringify({ action: { action: 'read', args: {} } })), /action\.args\.path/);
  });

  it('accepts what OpenHands clients send', async () => {
    const res = await post(
      JSON.stringify({
        action: {
          action: 'run',
          args: { command: 'echo compat', thought: 'x', confirmation_state: 'confirmed', security_risk: -1, is_static: false, hidden: false, blocking: false, cwd: null, is_input: false },
          timeout: 120,
          message: 'Running command: echo compat',
          timestamp: '2026-01-01T00:00:00',
          source: 'agent',
          id: 7,
        },
      }),
    );
    expect(res.status).toBe(200);
    expect((await res.json()).content).toBe('compat\n');
  });

  it('answers 413 to a body over 10 MiB and stays up', async () => {
    const huge = JSON.stringify({ action: { action: 'run', args: { command: 'x'.repeat(11 * 1024 * 1024) } } });
    const res = await post(huge);
    expect(res.status).toBe(413);
    expect((await res.json()).error.code).toBe('payload_too_large');
    expect((await server.run('echo still up')).content).toBe('still up\n');
  });

  it('answers 404 in JSON for an unknown route', async () => {
    const res = await fetch(`${server.url}/nope`, { headers: { 'x-session-api-key': KEY } });
    expect(res.status).toBe(404);
    expect((await res.json()).error.code).toBe('not_found');
  });
});

describe('ids', () => {
  it('runs an action sent twice with the same id once', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'rc-idem-')), 'f');
    const action = { action: 'run', args: { command: `echo x >> ${file}; wc -l < ${file}` } };
    const [a, b] = await Promise.all([server.execute(action, { id: 'same-id-1' }), server.execute(action, { id: 'same-id-1' })]);
    const c = await server.execute(action, { id: 'same-id-1' });
    expect(a.body).toEqual(b.body);
    expect(c.body).toEqual(a.body);
    expect(a.body.content).toBe('1\n');
    expect((await server.run(`cat ${file}`)).content).toBe('x\n');
  });

  it('takes the id from X-Request-ID too', async () => {
    const body = JSON.stringify({ action: { action: 'run', args: { command: 'echo $RANDOM' } } });
    const first = await (await post(body, KEY, { 'x-request-id': 'header-id-1' })).json();
    const second = await (await post(body, KEY, { 'x-request-id': 'header-id-1' })).json();
    expect(second).toEqual(first);
  });

  it('serves a recorded observation at /actions/{id}, and 404 for an unknown id', async () => {
    const { body } = await server.execute({ action: 'run', args: { command: 'echo recorded' } }, { id: 'lookup-1' });
    const res = await fetch(`${server.url}/actions/lookup-1`, { headers: { 'x-session-api-key': KEY } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(body);
    const missing = await fetch(`${server.url}/actions/never-sent`, { headers: { 'x-session-api-key': KEY } });
    expect(missing.status).toBe(404);
    expect((await missing.json()).error.code).toBe('not_found');
  });
});

describe('server info and logs', () => {
  it('reports version, uptime, idle time, sessions and resources', async () => {
    const res = await fetch(`${server.url}/server_info`, { headers: { 'x-session-api-key': KEY } });
    const info = await res.json();
    expect(info).toMatchObject({ version: expect.any(String), uptime: expect.any(Number), idle_time: expect.any(Number) });
    expect(info.sessions).toContainEqual(expect.objectContaining({ name: 'default', pid: expect.any(Number) }));
    expect(info.resources.memory.rss_bytes).toBeGreaterThan(0);
    expect(info.resources.disk.free_bytes).toBeGreaterThan(0);
  });

  it('logs one line per action with id, kind, session, duration and exit code', async () => {
    await server.execute({ action: 'run', args: { command: '(exit 5)', session: 'logged' } }, { id: 'log-me' });
    await new Promise((r) => setTimeout(r, 100));
    const lines = server.logs.filter((l) => l.id === 'log-me');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ msg: 'action', kind: 'run', session: 'logged', exitCode: 5, durationMs: expect.any(Number) });
  });
});

describe('readiness', () => {
  it('answers /alive 503 until the default session is ready', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rc-slow-'));
    const slow = join(dir, 'slow-bash');
    writeFileSync(slow, '#!/bin/sh\nsleep 1.5\nexec /bin/bash "$@"\n');
    chmodSync(slow, 0o755);
    const started = Date.now();
    const slowServer = await startServer({ args: ['--shell', slow], skipWait: true });
    try {
      const early = await fetch(`${slowServer.url}/alive`);
      if (Date.now() - started < 1400) {
        expect(early.status).toBe(503);
        expect(await early.json()).toEqual({ status: 'not initialized' });
      }
      let status = 0;
      for (let i = 0; i < 100 && status !== 200; i++) {
        status = (await fetch(`${slowServer.url}/alive`)).status;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(status).toBe(200);
      expect(exitCodeOf(await slowServer.run('true'))).toBe(0);
    } finally {
      await slowServer.stop();
    }
  });
});
