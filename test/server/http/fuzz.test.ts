// Fuzzing the action and frame parsers (issue 10): random values, valid requests and frames, and
// mutations of both, through Executor.parse in this process and through POST /execute_action and
// GET /ws on a real server. Any crash, hang, 5xx or `internal` error is a failure, and the server
// must answer /alive afterwards.
//
// A seeded generator, not a coverage-guided fuzzer: the one on npm (Jazzer.js) needs a native
// libFuzzer build fetched at install, and it instruments only its own process, while the target
// here is mostly a server in another process. Every run prints its seed; FUZZ_SEED=<n> repeats a
// run, FUZZ_CASES=<n> sets how many requests and frames it sends (in-process cases are 20x that).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { Executor } from '../../../server/actions/executor.js';
import { ActionStore } from '../../../server/actions/store.js';
import { ApiError } from '../../../server/errors.js';
import { parseJson } from '../../../server/http/json.js';
import { createLogger } from '../../../server/logger.js';
import { ClientFrame, HTTP_STATUS } from '../../../protocol/index.js';
import { MAX_TIMEOUT_SECONDS } from '../../../protocol/actions.js';
import { startServer, KEY, type TestServer } from '../../helpers/server.js';
import { Gen, defuse } from './fuzz-inputs.js';

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 32));
const CASES = Number(process.env.FUZZ_CASES ?? 3000);
/** One request or frame must be answered within this, in ms. */
const ANSWER_MS = 15_000;
console.log(`fuzz: FUZZ_SEED=${SEED} FUZZ_CASES=${CASES}`);

let server: TestServer;
let dir: string;
beforeAll(async () => {
  server = await startServer();
  dir = mkdtempSync(join(tmpdir(), 'rc-fuzz-'));
});
afterAll(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The input as text for a failure message: short enough to read, with the seed to repeat it. */
const show = (what: string, i: number, input: string) => `${what} case ${i} (FUZZ_SEED=${SEED}): ${JSON.stringify(input.length > 600 ? input.slice(0, 600) + '…' : input)}`;

/**
 * One input as text: a valid request or frame mutated, a random value, mutated JSON text, or
 * nesting far past the limit. Whatever parses is made harmless to run (defuse) first.
 */
function input(gen: Gen, valid: () => unknown): string {
  const r = gen.int(20);
  if (r === 0) {
    const depth = gen.pick([101, 1000, 100_000]);
    const [open, close] = gen.pick([['[', ']'], ['{"a":', '}']]);
    return open!.repeat(depth) + JSON.stringify(valid()) + close!.repeat(depth);
  }
  let text: string;
  if (r < 10) text = JSON.stringify(gen.mutate(valid()));
  else if (r < 14) text = JSON.stringify(valid());
  else if (r < 16) text = JSON.stringify(gen.value(4)) ?? 'null';
  else text = gen.mutateText(JSON.stringify(valid()));
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return text; // not JSON: nothing in it can run
  }
  return defuse(parsed, dir) ? JSON.stringify(parsed) : text;
}

const stats: Record<string, number> = {};
describe('parser fuzz', () => {
  it('Executor.parse and the frame parser only ever accept or answer 400', () => {
    const gen = new Gen(SEED);
    const executor = new Executor(null as never, new ActionStore(), createLogger('silent'));
    for (let i = 0; i < CASES * 20; i++) {
      const text = input(gen, () => (gen.chance(0.5) ? gen.validRequest(dir) : gen.validFrame(dir, KEY)));
      let parsed: unknown;
      try {
        parsed = parseJson(text, 'request body');
      } catch (e) {
        expect(e, show('parseJson', i, text)).toBeInstanceOf(ApiError);
        expect((e as ApiError).code, show('parseJson', i, text)).toBe('bad_request');
        continue;
      }
      expect(() => ClientFrame.safeParse(parsed), show('ClientFrame', i, text)).not.toThrow();
      try {
        const { id, action } = executor.parse(parsed, gen.chance(0.1) ? 'header-id' : undefined);
        expect(typeof id, show('parse', i, text)).toBe('string');
        if (action.kind === 'run') expect(action.args.command.includes('\0'), show('parse', i, text)).toBe(false);
        if ('path' in action.args) expect(action.args.path.includes('\0'), show('parse', i, text)).toBe(false);
        if (action.timeout !== undefined) expect(action.timeout, show('parse', i, text)).toBeLessThanOrEqual(MAX_TIMEOUT_SECONDS);
      } catch (e) {
        if (!(e instanceof ApiError)) throw new Error(`${show('parse', i, text)} threw ${(e as Error).stack}`);
        expect(e.code, show('parse', i, text)).toBe('bad_request');
      }
    }
  });

  it('POST /execute_action answers every input with a JSON answer below 500', async () => {
    const gen = new Gen(SEED + 1);
    for (let i = 0; i < CASES; i++) {
      const text = input(gen, () => gen.validRequest(dir));
      const res = await fetch(`${server.url}/execute_action`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-session-api-key': KEY },
        body: text,
        signal: AbortSignal.timeout(ANSWER_MS),
      }).catch((e) => {
        throw new Error(`${show('http', i, text)}: no answer: ${(e as Error).message}`);
      });
      const body = await res.json();
      const k = res.status === 200 ? `200 ${body.observation} ${body.success} ${body.extras?.error_id ?? ''}` : `${res.status} ${body.error.code}`;
      stats[k] = (stats[k] ?? 0) + 1;
      expect(res.status, show('http', i, text)).toBeLessThan(500);
      if (res.status === 200) expect(typeof body.observation, show('http', i, text)).toBe('string');
      else expect(HTTP_STATUS[body.error.code as keyof typeof HTTP_STATUS], show('http', i, text)).toBe(res.status);
    }
    expect(server.proc.exitCode).toBeNull();
    console.log(`fuzz: HTTP answers ${JSON.stringify(stats)}`);
  });

  it('GET /ws answers every frame in order, with and without the key, and never with internal', async () => {
    const gen = new Gen(SEED + 2);
    for (const withKey of [true, false]) {
      let socket: Sock = await open(withKey);
      for (let i = 0; i < CASES; i++) {
        const text = input(gen, () => gen.validFrame(dir, KEY));
        const probe = `probe-${i}`;
        const closed = socket.closed;
        if (gen.chance(0.05)) socket.ws.send(Buffer.from(text)); // binary: refused with an error frame
        else socket.ws.send(text);
        // An attach for an id nobody used is answered with an error frame naming it: once it
        // arrives, the fuzz frame before it was handled.
        socket.ws.send(JSON.stringify({ type: 'attach', id: probe }));
        const outcome = await Promise.race([
          socket.waitFor((f) => f.type === 'error' && f.id === probe).then(() => 'answered' as const),
          closed.then((code) => code),
          new Promise<'hung'>((r) => setTimeout(() => r('hung'), ANSWER_MS)),
        ]);
        expect(outcome, show(withKey ? 'ws' : 'ws without key', i, text)).not.toBe('hung');
        if (outcome !== 'answered') {
          // Closing is allowed only for a wrong key (4401) or a frame too big before auth (1009).
          expect([4401, 1009], show('ws close', i, text)).toContain(outcome);
          socket = await open(withKey);
        }
        const internal = socket.frames.find((f) => f.type === 'error' && f.error.code === 'internal');
        expect(internal, show('ws', i, text)).toBeUndefined();
      }
      socket.ws.close();
    }
  });

  it('leaves the server alive and usable', async () => {
    const res = await fetch(`${server.url}/alive`, { signal: AbortSignal.timeout(5000) });
    expect(res.status).toBe(200);
    expect((await server.run('echo still here', { session: 'default' })).content).toBe('still here\n');
    expect(server.logs.filter((l) => l.msg === 'request failed' || l.msg === 'websocket frame failed')).toEqual([]);
  });
});

interface Sock {
  ws: WebSocket;
  frames: any[];
  closed: Promise<number>;
  waitFor(pred: (f: any) => boolean): Promise<unknown>;
}

/** A socket that keeps every frame and resolves `closed` with the close code. */
async function open(withKey: boolean): Promise<Sock> {
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws`, { headers: withKey ? { 'x-session-api-key': KEY } : {} });
  ws.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const frames: any[] = [];
  const waiters = new Set<{ pred: (f: any) => boolean; resolve: () => void }>();
  ws.on('message', (data) => {
    const frame = JSON.parse(data.toString());
    frames.push(frame);
    for (const w of waiters) if (w.pred(frame)) (waiters.delete(w), w.resolve());
  });
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  return {
    ws,
    frames,
    closed,
    waitFor: (pred) =>
      frames.some(pred) ? Promise.resolve() : new Promise<void>((resolve) => waiters.add({ pred, resolve })),
  };
}
