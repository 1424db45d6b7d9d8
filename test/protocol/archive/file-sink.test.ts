// FileSink: a stream that writes a file with synchronous calls.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import { FileSink } from '../../../protocol/archive/file-sink.js';

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'rc-sink-'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const openUnder = (dir: string) =>
  readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith(dir);
    } catch {
      return false;
    }
  }).length;

describe('FileSink', () => {
  it('writes every chunk in order, with the mode asked for, and closes the file', async () => {
    const chunks = Array.from({ length: 20 }, (_, i) => randomBytes(1000 * i + 1));
    const path = join(scratch, 'out.bin');
    await pipeline(Readable.from(chunks), new FileSink(path, 0o640));
    expect(readFileSync(path).equals(Buffer.concat(chunks))).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o640 & ~process.umask());
    expect(openUnder(scratch)).toBe(0);
  });

  it('replaces what the file held', async () => {
    const path = join(scratch, 'again.txt');
    await pipeline(Readable.from([Buffer.from('a much longer first version\n')]), new FileSink(path));
    await pipeline(Readable.from([Buffer.from('short\n')]), new FileSink(path));
    expect(readFileSync(path, 'utf8')).toBe('short\n');
  });

  it('fails the pipeline when the file cannot be created', async () => {
    const dir = join(scratch, 'a-dir');
    mkdirSync(dir);
    await expect(pipeline(Readable.from([Buffer.from('x')]), new FileSink(dir))).rejects.toMatchObject({ code: 'EISDIR' });
  });

  it('closes the file when the stream feeding it fails', async () => {
    const path = join(scratch, 'cut.bin');
    const source = Readable.from(
      (async function* () {
        yield randomBytes(4096);
        await new Promise((r) => setTimeout(r, 20));
        throw new Error('the input broke');
      })(),
    );
    await expect(pipeline(source, new FileSink(path))).rejects.toThrow('the input broke');
    expect(openUnder(scratch)).toBe(0);
  });
});
