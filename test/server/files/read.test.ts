// read: line ranges against the session cwd, binary files refused, images, PDFs and videos as data: URLs, huge files streamed.
import { execSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../../helpers/server.js';
import { act, expectError } from './helpers.js';

let server: TestServer;
let dir: string;

beforeAll(async () => {
  server = await startServer();
  dir = mkdtempSync(join(tmpdir(), 'rc-read-'));
  writeFileSync(join(dir, 'ten.txt'), Array.from({ length: 10 }, (_, i) => `line ${i}\n`).join(''));
});
afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('read with impl_source oh_aci (the agent\'s editor view)', () => {
  it('answers like the editor: numbered lines of view_range, a listing for a directory, editor sentences for failures', async () => {
    const path = join(dir, 'ten.txt');
    const obs = await act(server, 'read', { path, impl_source: 'oh_aci', view_range: [2, 3] });
    expect(obs).toEqual({ observation: 'read', content: `Here's the result of running \`cat -n\` on ${path}:\n     2\tline 1\n     3\tline 2\n`, extras: { path, impl_source: 'oh_aci' }, success: true });
    const whole = await act(server, 'read', { path, impl_source: 'oh_aci' });
    expect(whole.content.split('\n').slice(-3)).toEqual(['    10\tline 9', '    11\t', '']);
    const listing = await act(server, 'read', { path: dir, impl_source: 'oh_aci' });
    expect(listing.content).toContain(`Here's the files and directories up to 2 levels deep in ${dir}, excluding hidden items:\n${dir}/\n`);
    expectError(
      await act(server, 'read', { path, impl_source: 'oh_aci', view_range: [11, 12] }),
      'ERROR_INVALID_ARGUMENT',
      'Invalid `view_range` parameter: [11, 12]. Its first element `11` should be within the range of lines of the file: [1, 10].',
    );
    expectError(
      await act(server, 'read', { path: 'ten.txt', impl_source: 'oh_aci' }),
      'ERROR_INVALID_ARGUMENT',
      'Invalid `path` parameter: ten.txt. The path should be an absolute path, starting with `/`.',
    );
  });
});

describe('read', () => {
  it('returns the whole file, its line count in meta and extras exactly as OpenHands builds FileReadObservation', async () => {
    const obs = await act(server, 'read', { path: join(dir, 'ten.txt') });
    expect(obs).toMatchObject({ observation: 'read', success: true, meta: { line_count: 10, total_lines: 10 } });
    expect(obs.extras).toEqual({ path: join(dir, 'ten.txt'), impl_source: 'default' });
    expect(obs.content).toBe(readFileSync(join(dir, 'ten.txt'), 'utf8'));
  });

  it('returns lines [start, end)', async () => {
    const obs = await act(server, 'read', { path: join(dir, 'ten.txt'), start: 2, end: 5 });
    expect(obs.content).toBe('line 2\nline 3\nline 4\n');
    expect(obs.meta).toEqual({ line_count: 3, total_lines: 10 });
    const tail = await act(server, 'read', { path: join(dir, 'ten.txt'), start: 8 });
    expect(tail.content).toBe('line 8\nline 9\n');
  });

  it('counts a last line without a line break', async () => {
    writeFileSync(join(dir, 'nobreak.txt'), 'a\nb');
    const obs = await act(server, 'read', { path: join(dir, 'nobreak.txt'), start: 1 });
    expect(obs.content).toBe('b');
    expect(obs.meta.total_lines).toBe(2);
  });

  it('resolves a relative path against the session cwd', async () => {
    await server.run(`cd ${dir}`, { session: 'reader' });
    const obs = await act(server, 'read', { path: 'ten.txt', start: 0, end: 1, session: 'reader' });
    expect(obs.content).toBe('line 0\n');
    expect(obs.extras.path).toBe(join(dir, 'ten.txt'));
  });

  it('refuses a binary file', async () => {
    writeFileSync(join(dir, 'blob.bin'), Buffer.from([1, 2, 0, 3, 4]));
    expectError(await act(server, 'read', { path: join(dir, 'blob.bin') }), 'ERROR_BINARY_FILE', /is binary/);
  });

  it('returns an image as a data: URL', async () => {
    const png = Buffer.from(
      'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
      'base64',
    );
    writeFileSync(join(dir, 'pixel.png'), png);
    const obs = await act(server, 'read', { path: join(dir, 'pixel.png') });
    expect(obs.success).toBe(true);
    expect(obs.content).toBe(`data:image/png;base64,${png.toString('base64')}`);
  });

  it('returns a PDF, a video and an Ogg file as data: URLs, as OpenHands\' server did', async () => {
    const files: [string, Buffer, string][] = [
      ['doc.pdf', Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.from([0, 0xff, 0xfe]), Buffer.from('\n%%EOF\n')]), 'application/pdf'],
      ['clip.mp4', Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypmp42'), Buffer.alloc(12)]), 'video/mp4'],
      ['clip.webm', Buffer.from([0x1a, 0x45, 0xdf, 0xa3, 0, 0, 0, 0]), 'video/webm'],
      ['sound.ogg', Buffer.concat([Buffer.from('OggS'), Buffer.alloc(8)]), 'audio/ogg'],
    ];
    for (const [name, data, mime] of files) {
      writeFileSync(join(dir, name), data);
      const obs = await act(server, 'read', { path: join(dir, name) });
      expect(obs.content, name).toBe(`data:${mime};base64,${data.toString('base64')}`);
    }
  });

  it('answers a missing file, a directory and an unreadable file with error observations', async () => {
    expectError(await act(server, 'read', { path: join(dir, 'nope.txt') }), 'ERROR_FILE_NOT_FOUND', `The path ${join(dir, 'nope.txt')} does not exist. Please provide a valid path.`);
    expectError(await act(server, 'read', { path: dir }), 'ERROR_IS_DIRECTORY', /is a directory/);
  });

  it('reads the first lines of a 2 GB file without holding it in memory', async () => {
    const big = join(dir, 'big.txt');
    execSync(`yes "some line of text" | head -c 2G > ${big}`, { shell: '/bin/bash' });
    const rssKb = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${server.proc.pid}/status`, 'utf8'))![1]);
    const before = rssKb();
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssKb())), 20);
    try {
      const obs = await act(server, 'read', { path: big, start: 0, end: 10 });
      expect(obs.content).toBe('some line of text\n'.repeat(10));
      expect(obs.meta.line_count).toBe(10);
      expect(obs.meta.total_lines).toBe(Math.ceil(2 * 1024 ** 3 / 18));
    } finally {
      clearInterval(sampler);
      rmSync(big, { force: true });
    }
    expect(peak - before).toBeLessThan(64 * 1024);
  }, 120_000);
});
