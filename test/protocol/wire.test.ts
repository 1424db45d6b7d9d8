// The real server's answers, bodies and frames against the protocol's schemas: each parses, and
// parsing drops nothing (an undeclared key would be stripped and the comparison fail), so the
// schemas and protocol/schema/*.json say exactly what travels.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  AliveReady,
  ErrorBody,
  ListFilesResult,
  Observation,
  ServerFrame,
  ServerInfo,
  SessionEnded,
  SessionInfo,
  SessionList,
  UploadQuery,
  UploadResult,
} from '../../protocol/index.js';
import { KEY, startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let dir: string;
beforeAll(async () => {
  server = await startServer();
  dir = mkdtempSync(join(tmpdir(), 'rc-wire-'));
});
afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const auth = { 'x-session-api-key': KEY };

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = auth): Promise<{ status: number; body: any }> {
  const res = await fetch(server.url + path, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

/** `value` is exactly a `schema`: it parses, and nothing in it is undeclared. */
function exactly(schema: z.ZodType, value: unknown): void {
  const parsed = schema.safeParse(value);
  if (!parsed.success) expect.fail(`${JSON.stringify(value).slice(0, 300)}: ${parsed.error.message}`);
  expect(parsed.data).toEqual(value);
}

describe('HTTP answers match their schemas exactly', () => {
  it('GET /alive, /server_info and the session routes', async () => {
    const alive = await call('GET', '/alive', undefined, {});
    expect(alive.status).toBe(200);
    exactly(AliveReady, alive.body);
    exactly(ServerInfo, (await call('GET', '/server_info')).body);
    await server.run('true', { session: 'wire' });
    exactly(SessionList, (await call('GET', '/sessions')).body);
    exactly(SessionInfo, (await call('POST', '/sessions/wire/reset')).body);
    exactly(SessionEnded, (await call('DELETE', '/sessions/wire')).body);
  });

  it('an observation of every kind, from POST /execute_action and GET /actions/{id}', async () => {
    const file = join(dir, 'f.txt');
    const actions = [
      { action: 'run', args: { command: 'echo hi' } },
      { action: 'run', args: { command: 'sleep 5' }, timeout: 0.5 },
      { action: 'run', args: { command: 'echo refused' } },
      { action: 'run', args: { command: 'C-c', is_input: true } },
      { action: 'write', args: { path: file, content: 'a\nb\n' } },
      { action: 'read', args: { path: file } },
      { action: 'edit', args: { path: file, command: 'str_replace', old_str: 'a', new_str: 'c' } },
      { action: 'read', args: { path: join(dir, 'missing') } },
    ];
    const kinds: string[] = [];
    for (const [i, action] of actions.entries()) {
      const { status, body } = await server.execute(action, { id: `wire-${i}` });
      expect(status).toBe(200);
      exactly(Observation, body);
      exactly(Observation, (await call('GET', `/actions/wire-${i}`)).body);
      kinds.push(body.observation);
    }
    expect(kinds).toEqual(['run', 'run', 'run', 'run', 'write', 'read', 'edit', 'error']);
  });

  it('error bodies carry a code of the enum', async () => {
    for (const [method, path, body, headers, status] of [
      ['GET', '/no-such-route', undefined, auth, 404],
      ['POST', '/execute_action', { action: { action: 'run', args: { command: 5 } } }, auth, 400],
      ['GET', '/server_info', undefined, {}, 401],
      ['GET', '/actions/never-seen', undefined, auth, 404],
    ] as const) {
      const res = await call(method, path, body, headers);
      expect(res.status).toBe(status);
      exactly(ErrorBody, res.body);
    }
  });

  it('POST /upload_file with a query of the schema, and POST /list_files', async () => {
    const query = UploadQuery.parse({ destination: join(dir, 'up'), recursive: 'false' });
    const form = new FormData();
    form.append('file', new Blob(['data']), 'up.txt');
    const res = await fetch(`${server.url}/upload_file?${new URLSearchParams(query as Record<string, string>)}`, { method: 'POST', headers: auth, body: form });
    expect(res.status).toBe(200);
    const body = await res.json();
    exactly(UploadResult, body);
    expect(body).toEqual({ destination: join(dir, 'up'), paths: [join(dir, 'up', 'up.txt')], bytes: 4 });
    writeFileSync(join(dir, 'B.txt'), '');
    const list = await call('POST', '/list_files', { path: dir });
    exactly(ListFilesResult, list.body);
    expect(list.body).toEqual(['up/', 'B.txt', 'f.txt']);
  });
});

describe('WS frames match ServerFrame exactly', () => {
  it('output, observation and error frames', async () => {
    const ws = await server.ws();
    ws.send({ type: 'execute', id: 'wire-ws', action: { action: 'run', args: { command: 'echo a; echo b' } } });
    ws.send({ type: 'attach', id: 'wire-unknown', from_seq: 0 });
    ws.send({ type: 'execute', id: 'wire-bad', action: { action: 'run', args: {} } });
    await ws.waitFor((f) => f.type === 'observation' && f.id === 'wire-ws');
    await ws.waitFor((f) => f.type === 'error' && f.id === 'wire-bad');
    await ws.waitFor((f) => f.type === 'error' && f.id === 'wire-unknown');
    expect(new Set(ws.frames.map((f) => f.type))).toEqual(new Set(['output', 'observation', 'error']));
    for (const frame of ws.frames) exactly(ServerFrame, frame);
    await ws.close();
  });
});
