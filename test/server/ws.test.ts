// GET /ws: streamed output before the observation, in seq order; attach after a dropped socket.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ServerFrame } from '../../protocol/index.js';
import { startServer, connectWs, KEY, type TestServer } from '../helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server.stop();
});

const runAction = (command: string, args: Record<string, unknown> = {}) => ({ action: 'run', args: { command, ...args } });

describe('execute', () => {
  it('streams output chunks in seq order before the one observation', async () => {
    const ws = await server.ws();
    ws.send({ type: 'execute', id: 'ws-1', action: runAction('for i in 1 2 3 4 5; do echo "line $i"; sleep 0.1; done') });
    const obs = await ws.waitFor((f) => f.type === 'observation' && f.id === 'ws-1');
    const frames = ws.frames.filter((f) => f.id === 'ws-1');
    const outputs = frames.filter((f) => f.type === 'output');
    expect(outputs.length).toBeGreaterThan(1);
    expect(outputs.map((f) => f.seq)).toEqual(outputs.map((_, i) => i));
    expect(frames.at(-1)).toBe(obs);
    expect(frames.filter((f) => f.type === 'observation')).toHaveLength(1);
    expect(outputs.map((f) => f.data).join('').replace(/\r/g, '')).toBe('line 1\nline 2\nline 3\nline 4\nline 5\n');
    expect(obs.observation.content).toBe('line 1\nline 2\nline 3\nline 4\nline 5\n');
    expect(obs.observation.extras.metadata.exit_code).toBe(0);
    await ws.close();
  });

  it('keeps a command running when its socket drops, and attach from a seq gets exactly the rest', async () => {
    const first = await server.ws();
    const id = 'ws-drop-1';
    first.send({ type: 'execute', id, action: runAction('for i in $(seq 1 15); do echo "n$i"; sleep 0.1; done', { blocking: true }) });
    await first.waitFor((f) => f.type === 'output' && f.id === id && f.seq >= 2);
    await first.close();
    const got = first.frames.filter((f) => f.type === 'output' && f.id === id);
    const lastSeq = got.at(-1).seq;
    const second = await server.ws();
    second.send({ type: 'attach', id, from_seq: lastSeq + 1 });
    const obs = await second.waitFor((f) => f.type === 'observation' && f.id === id);
    const rest = second.frames.filter((f) => f.type === 'output' && f.id === id);
    const seqs = [...got, ...rest].map((f) => f.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i));
    const text = [...got, ...rest].map((f) => f.data).join('').replace(/\r/g, '');
    expect(text).toBe(Array.from({ length: 15 }, (_, i) => `n${i + 1}\n`).join(''));
    expect(obs.observation.extras.metadata.exit_code).toBe(0);
    await second.close();
  });

  it('replays a finished action to a new execute with the same id without running it again', async () => {
    const ws = await server.ws();
    ws.send({ type: 'execute', id: 'ws-replay', action: runAction('echo $RANDOM$RANDOM') });
    const first = await ws.waitFor((f) => f.type === 'observation' && f.id === 'ws-replay');
    await ws.close();
    const again = await server.ws();
    again.send({ type: 'execute', id: 'ws-replay', action: runAction('echo $RANDOM$RANDOM') });
    const second = await again.waitFor((f) => f.type === 'observation' && f.id === 'ws-replay');
    expect(second.observation).toEqual(first.observation);
    await again.close();
  });
});

describe('output gap', () => {
  it('tells a late attach which chunks are gone with the output_gap code and its seqs, then streams the rest', async () => {
    const id = 'ws-gap';
    // 12 MB through the terminal: more than the 8 MiB of raw output an action keeps.
    const done = await server.execute(runAction("head -c 12000000 /dev/zero | tr '\\0' x; echo; echo end", { blocking: true }), { id });
    expect(done.body.extras.metadata.exit_code).toBe(0);
    const ws = await server.ws();
    ws.send({ type: 'attach', id, from_seq: 0 });
    const obs = await ws.waitFor((f) => f.type === 'observation' && f.id === id, 60_000);
    const frames = ws.frames.filter((f) => f.id === id);
    for (const frame of frames) expect(ServerFrame.safeParse(frame).success).toBe(true);
    const gap = frames[0];
    expect(gap).toMatchObject({ type: 'error', id, error: { code: 'output_gap', details: { from_seq: 0 } } });
    const first = gap.error.details.first_seq;
    expect(first).toBeGreaterThan(0);
    expect(gap.error.message).toBe(`output chunks 0 to ${first - 1} are no longer retained; continuing from ${first}`);
    const outputs = frames.filter((f) => f.type === 'output');
    expect(outputs[0].seq).toBe(first);
    expect(outputs.map((f) => f.seq)).toEqual(outputs.map((_, i) => first + i));
    expect(outputs.map((f) => f.data).join('').replace(/\r/g, '')).toMatch(/x\nend\n$/);
    expect(frames.filter((f) => f.type === 'error')).toHaveLength(1);
    expect(obs).toBe(frames.at(-1));
    // Attaching past the gap gets no notice.
    const again = await server.ws();
    again.send({ type: 'attach', id, from_seq: first });
    await again.waitFor((f) => f.type === 'observation' && f.id === id, 60_000);
    expect(again.frames.filter((f) => f.type === 'error')).toEqual([]);
    await Promise.all([ws.close(), again.close()]);
  }, 120_000);
});

describe('errors and auth', () => {
  it('answers a bad frame with an error frame and stays usable', async () => {
    const ws = await server.ws();
    ws.socket.send('not json');
    expect((await ws.waitFor((f) => f.type === 'error')).error.code).toBe('bad_request');
    ws.send({ type: 'execute', id: 'ws-bad', action: runAction(5 as never) });
    const bad = await ws.waitFor((f) => f.type === 'error' && f.id === 'ws-bad');
    expect(bad.error.message).toMatch(/action\.args\.command/);
    ws.send({ type: 'attach', id: 'no-such-action', from_seq: 0 });
    expect((await ws.waitFor((f) => f.type === 'error' && f.id === 'no-such-action')).error.code).toBe('not_found');
    ws.send({ type: 'execute', id: 'ws-ok', action: runAction('echo fine') });
    expect((await ws.waitFor((f) => f.type === 'observation' && f.id === 'ws-ok')).observation.content).toBe('fine\n');
    await ws.close();
  });

  it('refuses a wrong key at the upgrade', async () => {
    const socket = new WebSocket(`ws://127.0.0.1:${server.port}/ws`, { headers: { 'x-session-api-key': 'wrong' } });
    const status = await new Promise<number>((resolve) => socket.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
    expect(status).toBe(401);
  });

  it('accepts an auth frame instead of the header, and nothing before it', async () => {
    const ws = await connectWs(`ws://127.0.0.1:${server.port}/ws`, null);
    ws.send({ type: 'execute', id: 'too-early', action: runAction('echo no') });
    expect((await ws.waitFor((f) => f.type === 'error' && f.id === 'too-early')).error.code).toBe('unauthorized');
    ws.send({ type: 'auth', key: KEY });
    ws.send({ type: 'execute', id: 'after-auth', action: runAction('echo yes') });
    expect((await ws.waitFor((f) => f.type === 'observation' && f.id === 'after-auth')).observation.content).toBe('yes\n');
    await ws.close();
  });

  it('closes a socket that sends a wrong auth frame', async () => {
    const ws = await connectWs(`ws://127.0.0.1:${server.port}/ws`, null);
    const closed = new Promise<number>((resolve) => ws.socket.once('close', (code) => resolve(code)));
    ws.send({ type: 'auth', key: 'wrong' });
    expect(await closed).toBe(4401);
  });
});
