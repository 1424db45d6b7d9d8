// An archive uploaded with the wrong `format` (issue 11): the answer names what the upload really
// is, from its first bytes, and how to send it; nothing is extracted. Against a real server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { KEY, startServer, type TestServer } from '../../helpers/server.js';
import { tarOf, zipOf } from '../../archive/evil.js';
import { sniffFormat } from '../../../server/files/format.js';

let server: TestServer;
let scratch: string;
let tarball: Buffer;
let zip: Buffer;
beforeAll(async () => {
  server = await startServer();
  scratch = mkdtempSync(join(tmpdir(), 'rc-format-'));
  tarball = await tarOf([{ name: 'hello.txt', data: 'hello' }]);
  zip = await zipOf([{ name: 'hello.txt', data: 'hello' }]);
});
afterAll(async () => {
  await server?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

let uploads = 0;
/** Uploads `body` as an archive (recursive=true) with `format` (none: the default, zip). */
async function upload(body: Buffer, name: string, format?: 'zip' | 'tar') {
  const destination = join(scratch, `u${uploads++}`);
  const form = new FormData();
  form.append('file', new Blob([body]), name);
  const query = new URLSearchParams({ destination, recursive: 'true', ...(format ? { format } : {}) });
  const res = await fetch(`${server.url}/upload_file?${query}`, { method: 'POST', headers: { 'x-session-api-key': KEY }, body: form });
  const extracted = existsSync(destination) ? readdirSync(destination) : [];
  return { status: res.status, body: (await res.json()) as any, extracted };
}

describe('an archive sent with the wrong format', () => {
  it('a tar sent without format=tar: 400 naming tar and format=tar, nothing extracted', async () => {
    const r = await upload(tarball, 'tree.tar');
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('bad_request');
    expect(r.body.error.message).toBe(
      'the upload is a tar archive, but was read as a zip (format=zip, the default): send it with format=tar; nothing was extracted',
    );
    expect(r.body.error.details).toEqual({ format: 'zip', found: 'tar' });
    expect(r.extracted).toEqual([]);
  });

  it('a zip sent with format=tar: 400 naming zip', async () => {
    const r = await upload(zip, 'tree.zip', 'tar');
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/^the upload is a zip archive, but was read as a tar \(format=tar\): send it with format=zip/);
    expect(r.body.error.details).toEqual({ format: 'tar', found: 'zip' });
    expect(r.extracted).toEqual([]);
  });

  it('a .tar.gz, as zip or as tar: 400 saying it is gzip-compressed and to decompress it', async () => {
    for (const format of [undefined, 'tar'] as const) {
      const r = await upload(gzipSync(tarball), 'tree.tar.gz', format);
      expect(r.status).toBe(400);
      expect(r.body.error.message).toMatch(/^the upload is gzip-compressed \(a \.tar\.gz\?\), but was read as a (zip|tar) .*decompress it first/);
      expect(r.body.error.details.found).toBe('gzip');
      expect(r.extracted).toEqual([]);
    }
  });

  it('still unpacks each format sent as itself, and keeps the parser’s message for bytes of no known format', async () => {
    expect((await upload(tarball, 'tree.tar', 'tar')).extracted).toEqual(['hello.txt']);
    expect((await upload(zip, 'tree.zip')).extracted).toEqual(['hello.txt']);
    const junk = await upload(Buffer.from('definitely not an archive'), 'junk.zip');
    expect(junk.status).toBe(400);
    expect(junk.body.error.message).toMatch(/^not a valid zip file/);
  });
});

describe('sniffFormat', () => {
  it('tells formats apart by their magic numbers', () => {
    const at = (offset: number, magic: string | number[]) => {
      const b = Buffer.alloc(512);
      (typeof magic === 'string' ? Buffer.from(magic, 'latin1') : Buffer.from(magic)).copy(b, offset);
      return b;
    };
    expect(sniffFormat(at(0, 'PK\x03\x04'))).toBe('zip');
    expect(sniffFormat(at(0, 'PK\x05\x06'))).toBe('zip'); // an empty zip
    expect(sniffFormat(at(257, 'ustar\0'))).toBe('tar');
    expect(sniffFormat(at(257, 'ustar  \0'))).toBe('tar'); // GNU
    expect(sniffFormat(at(0, [0x1f, 0x8b]))).toBe('gzip');
    expect(sniffFormat(at(0, 'BZh9'))).toBe('bzip2');
    expect(sniffFormat(at(0, [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))).toBe('xz');
    expect(sniffFormat(at(0, [0x28, 0xb5, 0x2f, 0xfd]))).toBe('zstd');
    expect(sniffFormat(at(0, [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c]))).toBe('7z');
    expect(sniffFormat(at(0, 'Rar!\x1a\x07'))).toBe('rar');
    expect(sniffFormat(Buffer.from('PK'))).toBe(null); // too short to tell
    expect(sniffFormat(Buffer.alloc(512))).toBe(null);
  });
});
