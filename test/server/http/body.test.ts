// JSON request bodies: the receive deadline (issue 10 item 13: a body sent at 1 byte/s was not cut
// off), the size limit, encodings. The app runs in this process so the deadline can be 2 s.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, request, type Server } from 'node:http';
import { connect } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { createApp } from '../../../server/http/app.js';
import { keyChecker } from '../../../server/http/auth.js';
import { Executor } from '../../../server/actions/executor.js';
import { ActionStore } from '../../../server/actions/store.js';
import { SessionPool } from '../../../server/shell/pool.js';
import { createLogger } from '../../../server/logger.js';

const KEY = 'body-test-key';
const BODY_TIMEOUT_MS = 2000;
let server: Server;
let url: string;
let port: number;
let runtimeDir: string;

beforeAll(async () => {
  runtimeDir = mkdtempSync(join(tmpdir(), 'rc-body-'));
  const log = createLogger('silent');
  // A real pool; no test here gets as far as running an action, so no shell starts.
  const pool = new SessionPool({ shell: '/bin/bash', cwd: runtimeDir, env: {}, runtimeDir, noChangeTimeoutSeconds: 10, maxOutputChars: 30000, username: 'root', hostname: 'h' } as never);
  const app = createApp({
    executor: new Executor(pool, new ActionStore(), log),
    pool,
    log,
    version: '0.0.0-test',
    workingDir: runtimeDir,
    maxBodyMb: 1,
    bodyTimeoutMs: BODY_TIMEOUT_MS,
    checkKey: keyChecker(KEY),
    isReady: () => true,
  });
  server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  url = `http://127.0.0.1:${port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  rmSync(runtimeDir, { recursive: true, force: true });
});

const post = (body: BodyInit, headers: Record<string, string> = {}) =>
  fetch(`${url}/execute_action`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-session-api-key': KEY, ...headers }, body });

/** A raw HTTP/1.1 request whose body trickles in one byte every `everyMs`; resolves with what the server sent and when it closed. */
function trickle(declaredLength: number, everyMs: number): Promise<{ response: string; closedAfterMs: number }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const started = performance.now();
    let response = '';
    let sent = 0;
    const timer = setInterval(() => {
      if (response || sent >= declaredLength) return; // stop once the server has answered
      socket.write('{"action":{"action":"run","args":{"command":"echo slow"}}}'.padEnd(declaredLength)[sent++]!);
    }, everyMs);
    socket.on('connect', () =>
      socket.write(`POST /execute_action HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Session-API-Key: ${KEY}\r\nContent-Length: ${declaredLength}\r\n\r\n`),
    );
    socket.on('data', (chunk) => (response += chunk.toString()));
    socket.on('error', () => {}); // a reset after the answer still counts as closed
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ response, closedAfterMs: performance.now() - started });
    });
    setTimeout(() => {
      clearInterval(timer);
      socket.destroy();
      reject(new Error(`the server kept a trickling body open for 15 s; it answered ${JSON.stringify(response)}`));
    }, 15_000);
  });
}

describe('the body deadline (issue 10 item 13)', () => {
  it('answers 408 request_timeout to a body sent at 2 bytes/s and closes the connection', async () => {
    const { response, closedAfterMs } = await trickle(80, 500);
    expect(response).toMatch(/^HTTP\/1\.1 408 /);
    expect(response).toMatch(/connection: close/i);
    expect(JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4)).error).toEqual({
      code: 'request_timeout',
      message: 'the request body did not arrive within 2 s',
    });
    expect(closedAfterMs).toBeGreaterThanOrEqual(BODY_TIMEOUT_MS - 100);
    expect(closedAfterMs).toBeLessThan(BODY_TIMEOUT_MS + 3000);
  });

  it('answers 408 when the body never starts', async () => {
    const { response } = await trickle(50, 60_000);
    expect(response).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('still serves other requests meanwhile', async () => {
    const slow = trickle(80, 500);
    const res = await fetch(`${url}/alive`);
    expect(res.status).toBe(200);
    await slow;
  });
});

describe('reading bodies', () => {
  it('parses a body and checks it as before', async () => {
    const res = await post(JSON.stringify({ action: { action: 'run', args: {} } }));
    expect(res.status).toBe(400);
    expect((await res.json()).error.message).toMatch(/^action\.args\.command:/);
  });

  it('reads a gzip body', async () => {
    const res = await post(gzipSync(JSON.stringify({ action: { action: 'run', args: { command: 5 } } })), { 'content-encoding': 'gzip' });
    expect(res.status).toBe(400);
    expect((await res.json()).error.message).toMatch(/^action\.args\.command:/);
  });

  it('answers 413 to a body over the limit, declared or not, and 413 to a gzip body that inflates past it', async () => {
    const big = JSON.stringify({ action: { action: 'run', args: { command: 'x'.repeat(2 * 2 ** 20) } } });
    const declared = await post(big);
    expect(declared.status).toBe(413);
    expect((await declared.json()).error).toEqual({ code: 'payload_too_large', message: 'the request body is larger than 1 MiB' });
    // Chunked, no Content-Length: counted as it arrives.
    const streamed = await new Promise<{ status: number; body: any }>((resolve, reject) => {
      const req = request(`${url}/execute_action`, { method: 'POST', headers: { 'x-session-api-key': KEY } }, (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
      });
      req.on('error', reject);
      for (let i = 0; i < big.length; i += 65536) req.write(big.slice(i, i + 65536));
      req.end();
    });
    expect(streamed.status).toBe(413);
    expect(streamed.body.error.code).toBe('payload_too_large');
    const bomb = await post(gzipSync(big), { 'content-encoding': 'gzip' });
    expect(bomb.status).toBe(413);
  });

  it('refuses an unknown encoding and a charset other than UTF-8 with 400', async () => {
    const body = JSON.stringify({ action: { action: 'run', args: { command: 'ls' } } });
    const zstd = await post(body, { 'content-encoding': 'compress' });
    expect(zstd.status).toBe(400);
    expect((await zstd.json()).error.message).toMatch(/content-encoding "compress" is not supported/);
    const latin1 = await post(body, { 'content-type': 'application/json; charset=latin1' });
    expect(latin1.status).toBe(400);
    expect((await latin1.json()).error.message).toMatch(/must be UTF-8/);
  });

  it('answers malformed JSON with 400 bad_request', async () => {
    const res = await post('{"action":');
    expect(res.status).toBe(400);
    expect((await res.json()).error).toMatchObject({ code: 'bad_request', message: expect.stringMatching(/^the request body is not valid JSON/) });
  });
});
