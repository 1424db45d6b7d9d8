// The control plane's JSON bodies (control/http/body.ts over @runtime-client/http-kit): each
// refusal a ControlApiError with its status, code and message; no compressed bodies (the sandbox
// server takes them, the service does not); nesting past 32 levels refused; a blank body is {}.
// A real express app on port 0 with the service's error mapping (toControlApiError).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import express, { type NextFunction, type Request, type Response } from 'express';
import { jsonBody, MAX_JSON_DEPTH } from '../../control/http/body.js';
import { toControlApiError } from '../../control/http/errors.js';

let server: Server;
let url: string;

beforeAll(async () => {
  const app = express();
  app.post('/echo', jsonBody({ limitBytes: 1024, timeoutMs: 5000 }), (req, res) => void res.json({ body: req.body }));
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const error = toControlApiError(err);
    res.status(error.status).json(error.toBody());
  });
  server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/echo`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const post = async (body: BodyInit, headers: Record<string, string> = {}) => {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  return { status: res.status, body: await res.json() };
};

describe('control JSON bodies', () => {
  it('parses a body; an empty or blank one is {}', async () => {
    expect(await post('{"a":[1]}')).toEqual({ status: 200, body: { body: { a: [1] } } });
    expect(await post('')).toEqual({ status: 200, body: { body: {} } });
    expect(await post(' \n ')).toEqual({ status: 200, body: { body: {} } });
  });

  it('refuses a compressed body: 400 bad_request', async () => {
    expect(await post(gzipSync('{"a":1}'), { 'content-encoding': 'gzip' })).toEqual({
      status: 400,
      body: { error: { code: 'bad_request', message: 'content-encoding "gzip" is not supported: send the JSON as it is' } },
    });
  });

  it(`refuses nesting past ${MAX_JSON_DEPTH} levels and invalid JSON: 400 bad_request`, async () => {
    const deep = '['.repeat(MAX_JSON_DEPTH + 1) + ']'.repeat(MAX_JSON_DEPTH + 1);
    expect(await post(deep)).toEqual({
      status: 400,
      body: { error: { code: 'bad_request', message: `the request body nests arrays and objects more than 32 levels deep (at character 32)` } },
    });
    expect((await post('['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH))).status).toBe(200);
    const bad = await post('{"a":');
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/^the request body is not valid JSON: /);
  });

  it('refuses a body over the limit: 413 payload_too_large; and a charset other than UTF-8: 400', async () => {
    expect(await post('x'.repeat(2048))).toEqual({ status: 413, body: { error: { code: 'payload_too_large', message: 'the request body is larger than 0 MiB' } } });
    expect((await post('{}', { 'content-type': 'application/json; charset=utf-16' })).body.error).toEqual({
      code: 'bad_request',
      message: 'the request body must be UTF-8 JSON (charset utf-16 given)',
    });
  });
});
