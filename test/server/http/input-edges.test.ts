// Issue 10, item 13: input edges. A timeout past Node's timer range, a NUL byte in a command or a
// path, an id reused for a different action: each is refused with a clear error instead of
// quietly doing something else.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, exitCodeOf, type TestServer } from '../../helpers/server.js';

let server: TestServer;
let dir: string;
beforeAll(async () => {
  server = await startServer();
  dir = mkdtempSync(join(tmpdir(), 'rc-edges-'));
});
afterAll(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

const expectBadRequest = (res: { status: number; body: any }, field: string) => {
  expect(res.status).toBe(400);
  expect(res.body.error.code).toBe('bad_request');
  expect(res.body.error.details.issues.map((i: { path: string }) => i.path)).toContain(field);
};

describe('timeout', () => {
  it('refuses a timeout past 2,147,483 s with 400 naming action.timeout', async () => {
    const res = await server.execute({ action: 'run', args: { command: 'echo never' }, timeout: 2_147_484 });
    expectBadRequest(res, 'action.timeout');
    expect(res.body.error.message).toMatch(/^action\.timeout: must be at most 2147483 seconds/);
    expectBadRequest(await server.execute({ action: 'run', args: { command: 'echo never' }, timeout: 1e12 }), 'action.timeout');
  });

  it('honours the largest timeout: it does not fire at once', async () => {
    const obs = await server.run('sleep 1; echo waited', { blocking: true }, 2_147_483);
    expect(obs.content).toBe('waited\n');
    expect(exitCodeOf(obs)).toBe(0);
  });

  it('refuses it in a WebSocket execute frame too', async () => {
    const ws = await server.ws();
    ws.send({ type: 'execute', id: 'edge-ws-timeout', action: { action: 'run', args: { command: 'echo never' }, timeout: 3_000_000 } });
    const error = await ws.waitFor((f) => f.type === 'error' && f.id === 'edge-ws-timeout');
    expect(error.error.code).toBe('bad_request');
    expect(error.error.message).toMatch(/action\.timeout/);
    await ws.close();
  });
});

describe('NUL bytes', () => {
  it('refuses a NUL in a command with 400 naming action.args.command, and runs nothing', async () => {
    const file = join(dir, 'nul-ran');
    const res = await server.execute({ action: 'run', args: { command: `touch ${file}\u0000; rm -rf /nothing` } });
    expectBadRequest(res, 'action.args.command');
    expect(res.body.error.message).toMatch(/NUL/);
    expect(existsSync(file)).toBe(false);
  });

  it.each(['read', 'write', 'edit'])('refuses a NUL in the path of %s with 400 naming action.args.path', async (kind) => {
    const args = { path: join(dir, 'a\u0000b'), ...(kind === 'write' ? { content: 'x' } : {}), ...(kind === 'edit' ? { command: 'create', file_text: 'x' } : {}) };
    expectBadRequest(await server.execute({ action: kind, args }), 'action.args.path');
  });
});

describe('ids reused', () => {
  it('answers 409 conflict to an id reused for a different command, and does not run it', async () => {
    const first = await server.execute({ action: 'run', args: { command: 'echo first' } }, { id: 'edge-reuse-1' });
    expect(first.body.content).toBe('first\n');
    const file = join(dir, 'second-ran');
    const second = await server.execute({ action: 'run', args: { command: `touch ${file}` } }, { id: 'edge-reuse-1' });
    expect(second.status).toBe(409);
    expect(second.body.error.code).toBe('conflict');
    expect(second.body.error.message).toMatch(/"edge-reuse-1" was already used for a different action/);
    expect(existsSync(file)).toBe(false);
  });

  it('answers 409 when only the timeout, the session or the kind differs', async () => {
    await server.execute({ action: 'run', args: { command: 'echo t' }, timeout: 30 }, { id: 'edge-reuse-2' });
    expect((await server.execute({ action: 'run', args: { command: 'echo t' }, timeout: 31 }, { id: 'edge-reuse-2' })).status).toBe(409);
    expect((await server.execute({ action: 'run', args: { command: 'echo t', session: 'other' }, timeout: 30 }, { id: 'edge-reuse-2' })).status).toBe(409);
    expect((await server.execute({ action: 'read', args: { path: dir } }, { id: 'edge-reuse-2' })).status).toBe(409);
  });

  it('still replays the same action under the same id: defaults spelled out and OpenHands extras do not make it different', async () => {
    const action = { action: 'run', args: { command: 'echo $RANDOM$RANDOM' }, timeout: 20 };
    const first = await server.execute(action, { id: 'edge-replay-1' });
    const again = await server.execute(
      { ...action, args: { ...action.args, blocking: false, is_input: false, session: 'default', thought: 'retrying', security_risk: 1 }, message: 'Running command' },
      { id: 'edge-replay-1' },
    );
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
  });

  it('answers a conflicting WebSocket execute with an error frame carrying the id', async () => {
    await server.execute({ action: 'run', args: { command: 'echo ws-first' } }, { id: 'edge-reuse-ws' });
    const ws = await server.ws();
    ws.send({ type: 'execute', id: 'edge-reuse-ws', action: { action: 'run', args: { command: 'echo ws-second' } } });
    const error = await ws.waitFor((f) => f.type === 'error' && f.id === 'edge-reuse-ws');
    expect(error.error.code).toBe('conflict');
    await ws.close();
  });
});
