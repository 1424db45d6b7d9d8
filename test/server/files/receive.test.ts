// Upload bodies have a receive timeout too: one that drips in below the minimum rate is cut off
// with 408 and its connection closed; nothing of it is left (issue 10, item 13).
import { afterAll, beforeAll, expect, it } from 'vitest';
import express, { type NextFunction, type Request, type Response } from 'express';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerFileRoutes } from '../../../server/files/routes.js';
import { ApiError } from '../../../server/errors.js';

let server: Server;
let port: number;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rc-receive-'));
  const app = express();
  registerFileRoutes(app, { maxUploadMb: 10, minUploadRate: { bytesPerSecond: 1000, graceMs: 1000 }, cwd: () => dir, json: express.json() });
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const e = err instanceof ApiError ? err : new ApiError('internal', String(err));
    res.status(e.status).json(e.toBody());
  });
  server = createServer(app);
  server.requestTimeout = 0;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

it('cuts off an upload that drips in below the minimum rate: 408, connection closed, nothing left', async () => {
  const boundary = 'xyzzy';
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="slow.bin"\r\n\r\n`;
  const socket = connect(port, '127.0.0.1');
  let response = '';
  socket.on('data', (d) => (response += d));
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(performance.now())));
  const started = performance.now();
  socket.write(
    `POST /upload_file?destination=${encodeURIComponent(dir)} HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: 100000\r\n\r\n${head}`,
  );
  const drip = setInterval(() => socket.writable && socket.write('a'), 100);
  const closedAt = await closed;
  clearInterval(drip);
  expect(response).toMatch(/^HTTP\/1.1 408/);
  expect(response).toContain('request_timeout');
  expect(closedAt - started).toBeLessThan(10_000);
  expect(readdirSync(dir)).toEqual([]);
});

it('lets an upload at a normal rate through', async () => {
  const form = new FormData();
  form.append('file', new Blob([Buffer.alloc(200_000, 1)]), 'fast.bin');
  const res = await fetch(`http://127.0.0.1:${port}/upload_file?destination=${encodeURIComponent(dir)}`, { method: 'POST', body: form });
  expect(res.status).toBe(200);
  expect(readdirSync(dir)).toEqual(['fast.bin']);
});
