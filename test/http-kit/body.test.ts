// @runtime-client/http-kit: the body reader both services use, on a real node:http server on
// port 0, in both of its modes (the sandbox server inflates compressed bodies, the control plane
// refuses them), the nesting check, and the version lookup.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, request, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { depthOverflowAt, HttpKitError, parseJson, readBodyText, VERSION, type ReadBodyOptions } from '@runtime-client/http-kit';

const LIMIT = 1024;
const TIMEOUT_MS = 1000;
let server: Server;
let port: number;

/** Each request is read with the options its path names: /plain (no decompression) or /inflate. */
beforeAll(async () => {
  server = createServer((req, res) => {
    const options: ReadBodyOptions = { limitBytes: LIMIT, timeoutMs: TIMEOUT_MS, decompress: req.url === '/inflate' };
    readBodyText(req, options).then(
      (text) => res.end(JSON.stringify({ text })),
      (e: HttpKitError) => {
        if (e.closeConnection) res.setHeader('connection', 'close');
        res.end(JSON.stringify({ error: { name: e.name, code: e.code, message: e.message, closeConnection: e.closeConnection } }));
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** POSTs `body` to `path` with `headers`; resolves with what the handler answered. */
function post(path: string, body: string | Buffer, headers: Record<string, string | number> = {}): Promise<any> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', headers: { 'content-length': Buffer.byteLength(body), ...headers } }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve(JSON.parse(text)));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('readBodyText', () => {
  it('reads the body as UTF-8 text, drops a byte-order mark, and gives "" for an empty body', async () => {
    expect(await post('/plain', '{"a":"é"}')).toEqual({ text: '{"a":"é"}' });
    expect(await post('/plain', '\ufeff[1]')).toEqual({ text: '[1]' });
    expect(await post('/plain', '')).toEqual({ text: '' });
  });

  it('without decompress, refuses any content-encoding but identity, before looking at the length', async () => {
    expect((await post('/plain', gzipSync('[1]'), { 'content-encoding': 'gzip' })).error).toEqual({
      name: 'HttpKitError',
      code: 'bad_request',
      message: 'content-encoding "gzip" is not supported: send the JSON as it is',
      closeConnection: false,
    });
    expect((await post('/plain', 'x'.repeat(2 * LIMIT), { 'content-encoding': 'GZip ' })).error.message).toBe('content-encoding "gzip" is not supported: send the JSON as it is');
    expect(await post('/plain', '[1]', { 'content-encoding': 'identity' })).toEqual({ text: '[1]' });
  });

  it('with decompress, inflates gzip, and refuses an unknown encoding after the length', async () => {
    expect(await post('/inflate', gzipSync('[1,2]'), { 'content-encoding': 'gzip' })).toEqual({ text: '[1,2]' });
    expect((await post('/inflate', '[1]', { 'content-encoding': 'compress' })).error).toMatchObject({
      code: 'bad_request',
      message: 'content-encoding "compress" is not supported (use identity, gzip, deflate or br)',
    });
    expect((await post('/inflate', 'x'.repeat(2 * LIMIT), { 'content-encoding': 'compress' })).error.code).toBe('payload_too_large');
    expect((await post('/inflate', gzipSync('x'.repeat(4 * LIMIT)), { 'content-encoding': 'gzip' })).error.code).toBe('payload_too_large');
  });

  it('refuses a body over the limit, declared or counted while reading, and keeps the connection when the rest was drained', async () => {
    const declared = await post('/plain', 'x'.repeat(LIMIT + 1));
    expect(declared.error).toEqual({ name: 'HttpKitError', code: 'payload_too_large', message: 'the request body is larger than 0 MiB', closeConnection: false });
    const chunked = await new Promise<any>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/plain', method: 'POST' }, (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve(JSON.parse(text)));
      });
      req.on('error', reject);
      for (let i = 0; i < 4; i++) req.write('x'.repeat(LIMIT));
      req.end();
    });
    expect(chunked.error.code).toBe('payload_too_large');
  });

  it('refuses a charset other than UTF-8', async () => {
    expect((await post('/plain', '[1]', { 'content-type': 'application/json; charset=latin1' })).error).toMatchObject({
      code: 'bad_request',
      message: 'the request body must be UTF-8 JSON (charset latin1 given)',
    });
  });

  it('gives up on a body that does not arrive within timeoutMs: request_timeout, and the connection must close', async () => {
    const response = await new Promise<string>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      let text = '';
      socket.on('connect', () => socket.write('POST /plain HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n[1'));
      socket.on('data', (c) => (text += c));
      socket.on('error', () => {});
      socket.on('close', () => resolve(text));
    });
    expect(response).toMatch(/connection: close/i);
    expect(JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4)).error).toEqual({
      name: 'HttpKitError',
      code: 'request_timeout',
      message: 'the request body did not arrive within 1 s',
      closeConnection: true,
    });
  });
});

describe('parseJson', () => {
  it('parses, and refuses invalid JSON and nesting past maxDepth with bad_request naming the text', () => {
    expect(parseJson('{"a":[1]}', 'request body', 2)).toEqual({ a: [1] });
    const deep = () => parseJson('[[[1]]]', 'frame', 2);
    expect(deep).toThrow(HttpKitError);
    expect(deep).toThrow('the frame nests arrays and objects more than 2 levels deep (at character 2)');
    expect(() => parseJson('{"a":', 'request body', 2)).toThrow(/^the request body is not valid JSON: /);
    expect(depthOverflowAt('["[[[", [1]]', 2)).toBe(-1);
  });
});

describe('VERSION', () => {
  it('is the version of the checkout it runs from', () => {
    expect(VERSION).toBe(JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')).version);
  });
});
