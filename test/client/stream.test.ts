// RuntimeClient.stream(): chunks in order and exactly once across dropped sockets (a TCP proxy
// cuts them), gaps reported, input and C-c over HTTP; against the real server and a fixture.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { RuntimeClient, RuntimeError, type StreamGap, type StreamHandle } from '../../client/index.js';
import { KEY, startServer, type TestServer } from '../helpers/server.js';
import { fixtureObservation, startFlakyServer, type FlakyServer } from './flaky-server.js';
import { startProxy, type TcpProxy } from './tcp-proxy.js';

const root = join(import.meta.dirname, '..', '..');
const blocking = (command: string) => ({ action: 'run' as const, args: { command, blocking: true } });
const lines = (text: string) => text.replace(/\r\n/g, '\n').split('\n').filter(Boolean);

/** Reads a stream to its end; `onChunk` sees each chunk as it comes. */
async function drain(handle: StreamHandle, onChunk: (chunk: string, all: string) => void = () => {}): Promise<string[]> {
  const chunks: string[] = [];
  for await (const chunk of handle) {
    chunks.push(chunk);
    onChunk(chunk, chunks.join(''));
  }
  return chunks;
}

describe('stream() against the real server', () => {
  let server: TestServer;
  let proxy: TcpProxy;
  let client: RuntimeClient;
  let direct: RuntimeClient;
  beforeAll(async () => {
    server = await startServer({ env: { NO_CHANGE_TIMEOUT_SECONDS: '1' } });
    proxy = await startProxy(server.port);
    client = new RuntimeClient({ url: proxy.url, apiKey: KEY, backoffMs: 20 });
    direct = new RuntimeClient({ url: server.url, apiKey: KEY });
  });
  afterAll(async () => {
    await client?.close();
    await direct?.close();
    await proxy?.close();
    await server?.stop();
  });

  it('yields raw chunks in order, then the observation, whose content is the same text', async () => {
    const handle = direct.stream(blocking('for i in $(seq 1 40); do echo line-$i; sleep 0.005; done'), { id: 'ordered-1' });
    expect(handle.id).toBe('ordered-1');
    let observed = false;
    void handle.observation.then(() => (observed = true));
    let firstChunkBeforeObservation = false;
    const chunks = await drain(handle, (_c, all) => {
      if (all.length && !observed) firstChunkBeforeObservation = true;
    });
    expect(firstChunkBeforeObservation).toBe(true);
    expect(chunks.length).toBeGreaterThan(1);
    expect(lines(chunks.join(''))).toEqual(Array.from({ length: 40 }, (_, i) => `line-${i + 1}`));
    const observation = await handle.observation;
    expect(observation.observation).toBe('run');
    if (observation.observation === 'run') expect(observation.extras.metadata.exit_code).toBe(0);
    expect(chunks.join('').replace(/\r\n/g, '\n')).toBe(observation.content);
  });

  it('reconnects after the socket is cut mid-stream and yields every line exactly once', async () => {
    const before = proxy.connections;
    const handle = client.stream(blocking('for i in $(seq 1 300); do echo line-$i; sleep 0.004; done'));
    let drops = 0;
    const chunks = await drain(handle, (_c, all) => {
      // Cut twice: once after line-50, once after line-200 (whichever chunk first shows them).
      if ((drops === 0 && all.includes('line-50\r\n')) || (drops === 1 && all.includes('line-200\r\n'))) {
        drops++;
        proxy.dropAll();
      }
    });
    expect(drops).toBe(2);
    expect(proxy.connections - before).toBeGreaterThanOrEqual(3);
    expect(lines(chunks.join(''))).toEqual(Array.from({ length: 300 }, (_, i) => `line-${i + 1}`));
    const observation = await handle.observation;
    expect(observation.success).toBe(true);
    expect(chunks.join('').replace(/\r\n/g, '\n')).toBe(observation.content);
  });

  it('a socket cut before any chunk sends execute again with the same id: the command runs once', async () => {
    const file = `/tmp/rc-stream-once-${process.pid}-${Date.now()}`;
    const handle = client.stream(blocking(`echo x >> ${file}; sleep 0.6; echo finished`));
    await new Promise((r) => setTimeout(r, 200));
    proxy.dropAll();
    const chunks = await drain(handle);
    expect(lines(chunks.join(''))).toEqual(['finished']);
    expect((await handle.observation).success).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe('x\n');
  });

  it('many streams share the socket, each gets its own output', async () => {
    const handles = [1, 2, 3].map((k) =>
      client.stream({ action: 'run', args: { command: `for i in 1 2 3; do echo s${k}-$i; sleep 0.01; done`, blocking: true, session: `multi-${k}` } }),
    );
    const outputs = await Promise.all(handles.map(async (h) => lines((await drain(h)).join(''))));
    expect(outputs).toEqual([1, 2, 3].map((k) => [1, 2, 3].map((i) => `s${k}-${i}`)));
  });

  it('sendInput() answers a prompt and interrupt() sends C-c, over HTTP on the same session', async () => {
    const session = `input-${Date.now()}`;
    const asking = client.stream({ action: 'run', args: { command: 'read -p "name? " n; echo "hello $n"', session } });
    // Not blocking: the soft timeout (1 s here) returns the action while read waits.
    expect((await asking.observation).success).toBe(false);
    const answered = await asking.sendInput('bob');
    expect(answered.content).toContain('hello bob');
    expect(answered.observation === 'run' && answered.extras.metadata.exit_code).toBe(0);

    const sleeping = client.stream({ action: 'run', args: { command: 'sleep 30', session } });
    await sleeping.observation;
    const interrupted = await sleeping.interrupt();
    expect(interrupted.observation === 'run' && interrupted.extras.metadata.exit_code).toBe(130);
  });

  it("a wrong key: the observation and the iterator fail with 'unauthorized', no retries", async () => {
    const wrong = new RuntimeClient({ url: proxy.url, apiKey: 'wrong', backoffMs: 20 });
    const before = proxy.connections;
    try {
      const handle = wrong.stream(blocking('echo never'));
      await expect(drain(handle)).rejects.toMatchObject({ code: 'unauthorized' });
      await expect(handle.observation).rejects.toBeInstanceOf(RuntimeError);
      expect(proxy.connections - before).toBe(1);
    } finally {
      await wrong.close();
    }
  });

  it("close() on the handle ends the iteration quietly; the observation rejects with 'disconnected'", async () => {
    const handle = direct.stream(blocking('sleep 0.3; echo late'));
    setTimeout(() => handle.close(), 50);
    expect(await drain(handle)).toEqual([]);
    await expect(handle.observation).rejects.toMatchObject({ code: 'disconnected' });
  });

  it("client.close() fails unfinished streams with 'unavailable'", async () => {
    const own = new RuntimeClient({ url: server.url, apiKey: KEY });
    const handle = own.stream(blocking('sleep 0.5'));
    await new Promise((r) => setTimeout(r, 100));
    await own.close();
    await expect(handle.observation).rejects.toMatchObject({ code: 'unavailable' });
    expect(() => own.stream(blocking('true'))).toThrow(RuntimeError);
  });

  it('an idle client does not keep the process alive (after a stream, without close())', async () => {
    const script = `
      import { RuntimeClient } from ${JSON.stringify(join(root, 'client', 'dist', 'index.js'))};
      const c = new RuntimeClient({ url: ${JSON.stringify(server.url)}, apiKey: ${JSON.stringify(KEY)} });
      const h = c.stream({ action: 'run', args: { command: 'echo bye', blocking: true } });
      for await (const chunk of h) process.stdout.write(chunk);
      await c.run('true');
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const code = await new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill();
        reject(new Error('the process stayed alive'));
      }, 10_000);
      child.on('exit', (c) => (clearTimeout(timer), resolve(c)));
    });
    expect(code).toBe(0);
    expect(out).toBe('bye\r\n');
  });
});

describe('stream() against a fixture WebSocket server', () => {
  let fixture: FlakyServer;
  let client: RuntimeClient;
  const frames: any[] = [];

  beforeEach(async () => {
    frames.length = 0;
    fixture = await startFlakyServer();
    client = new RuntimeClient({ url: fixture.url, apiKey: 'k', backoffMs: 10, retries: 3 });
  });
  afterEach(async () => {
    await client.close();
    await fixture.close();
  });

  /** First socket: chunks 0 and 1, then it is cut. Second: a gap notice for 2-4, chunks 5 and 6, the observation. */
  function dropThenGap(): void {
    let sockets = 0;
    fixture.onSocket((ws: WebSocket) => {
      const n = sockets++;
      ws.on('message', (data) => {
        const frame = JSON.parse(data.toString());
        frames.push(frame);
        const send = (f: unknown) => ws.send(JSON.stringify(f));
        if (n === 0) {
          send({ type: 'output', id: frame.id, seq: 0, data: 'a' });
          send({ type: 'output', id: frame.id, seq: 1, data: 'b' });
          setTimeout(() => ws.terminate(), 20);
        } else {
          send({ type: 'error', id: frame.id, error: { code: 'output_gap', message: 'chunks are gone', details: { from_seq: 2, first_seq: 5 } } });
          send({ type: 'output', id: frame.id, seq: 5, data: 'f' });
          send({ type: 'output', id: frame.id, seq: 5, data: 'f' }); // a repeat is dropped
          send({ type: 'output', id: frame.id, seq: 6, data: 'g' });
          send({ type: 'observation', id: frame.id, observation: fixtureObservation(frame.id) });
        }
      });
    });
  }

  it('attaches from the next seq after a drop; a gap makes the iterator throw where it is', async () => {
    dropThenGap();
    const handle = client.stream(blocking('x'), { id: 'g1' });
    const got: string[] = [];
    const error = await (async () => {
      for await (const chunk of handle) got.push(chunk);
    })().catch((e: unknown) => e);
    expect(got).toEqual(['a', 'b']);
    expect(error).toBeInstanceOf(RuntimeError);
    expect(error).toMatchObject({ code: 'disconnected', data: { id: 'g1', from: 2, to: 5 } });
    expect(frames.map((f) => [f.type, f.id, f.from_seq])).toEqual([
      ['execute', 'g1', undefined],
      ['attach', 'g1', 2],
    ]);
    expect((await handle.observation).content).toBe('ran g1\n');
  });

  it('with onGap the stream carries on past the gap', async () => {
    dropThenGap();
    const gaps: StreamGap[] = [];
    const handle = client.stream(blocking('x'), { id: 'g2', onGap: (gap) => gaps.push(gap) });
    expect(await drain(handle)).toEqual(['a', 'b', 'f', 'g']);
    expect(gaps).toEqual([{ id: 'g2', from: 2, to: 5 }]);
    expect(frames[0].action).toEqual(blocking('x'));
  });

  it('reads a gap from the output_gap code and its seqs, never from the sentence', async () => {
    fixture.onSocket((ws) =>
      ws.on('message', (data) => {
        const { id } = JSON.parse(data.toString());
        // What servers sent before the output_gap code: a sentence under not_found. It is an error now.
        ws.send(JSON.stringify({ type: 'error', id, error: { code: 'not_found', message: 'output chunks 0 to 4 are no longer retained; continuing from 5' } }));
      }),
    );
    const gaps: StreamGap[] = [];
    const handle = client.stream(blocking('x'), { id: 'g3', onGap: (gap) => gaps.push(gap) });
    await expect(handle.observation).rejects.toMatchObject({ code: 'disconnected', message: expect.stringContaining('no longer retained') });
    expect(gaps).toEqual([]);
  });

  it("an error frame for the action fails it with the mapped code ('bad_action' for bad_request)", async () => {
    fixture.onSocket((ws) =>
      ws.on('message', (data) => {
        const { id } = JSON.parse(data.toString());
        ws.send(JSON.stringify({ type: 'error', id, error: { code: 'bad_request', message: 'action.args.command: Invalid input' } }));
      }),
    );
    const handle = client.stream({ action: 'run', args: {} });
    await expect(handle.observation).rejects.toMatchObject({ code: 'bad_action', message: 'GET /ws: action.args.command: Invalid input' });
    await expect(drain(handle)).rejects.toMatchObject({ code: 'bad_action' });
  });

  it("a socket that keeps dropping before anything arrives: 'disconnected' after the retries", async () => {
    let sockets = 0;
    fixture.onSocket((ws) => {
      sockets++;
      ws.terminate();
    });
    const handle = client.stream(blocking('x'));
    await expect(handle.observation).rejects.toMatchObject({ code: 'disconnected' });
    expect(sockets).toBe(4);
  });

  it("no frame at all: 'timeout' after the action's timeout plus the margin", async () => {
    fixture.onSocket(() => {});
    const quick = new RuntimeClient({ url: fixture.url, timeoutMarginMs: 100 });
    try {
      const started = performance.now();
      const handle = quick.stream({ action: 'run', args: { command: 'x' }, timeout: 0.2 });
      await expect(handle.observation).rejects.toMatchObject({ code: 'timeout' });
      expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    } finally {
      await quick.close();
    }
  });
});
