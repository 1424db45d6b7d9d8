// What an archive may unpack to (issue 10 item 11, "a 1 MB zip expands to 1.1 GB"): a zip bomb is
// refused from its declared sizes before anything is written, a tar as soon as a header would pass
// the limit, and a refused archive leaves nothing in its destination.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ArchiveError, ArchiveTooLargeError } from '../../archive/entries.js';
import { extractInto } from '../../archive/extract.js';
import { untarStream } from '../../archive/untar.js';
import { unzipFile } from '../../archive/unzip.js';
import { tarOf, tree, zipOf } from './evil.js';

const MiB = 2 ** 20;
let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'rc-limits-'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let n = 0;
const fresh = () => {
  const dir = join(scratch, `d${n++}`);
  mkdirSync(dir);
  return dir;
};

/** 48 MiB of deflated zeros in three entries: a zip of about 50 KB. */
const bomb = () => zipOf([0, 1, 2].map((i) => ({ name: `zeros/${i}.bin`, data: Buffer.alloc(16 * MiB) })), true);

describe('zip', () => {
  it('refuses a zip bomb from its declared sizes, before writing anything', async () => {
    const zip = join(scratch, 'bomb.zip');
    writeFileSync(zip, await bomb());
    expect(readFileSync(zip).length).toBeLessThan(200_000);
    const into = fresh();
    const error = await unzipFile(zip, into, { maxBytes: MiB }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(ArchiveTooLargeError);
    expect(error).toMatchObject({ message: 'the archive unpacks to more than 1 MiB; nothing was extracted', limitBytes: MiB });
    expect(readdirSync(into)).toEqual([]); // not even the directory zeros/
    const dest = fresh();
    await expect(extractInto(dest, (staging) => unzipFile(zip, staging, { maxBytes: MiB }))).rejects.toBeInstanceOf(ArchiveTooLargeError);
    expect(readdirSync(dest)).toEqual([]);
  });

  it('unpacks a zip of exactly the limit, and the same zip without a limit', async () => {
    const zip = join(scratch, 'exact.zip');
    writeFileSync(zip, await zipOf([{ name: 'a', data: Buffer.alloc(MiB - 100, 1) }, { name: 'b', data: Buffer.alloc(96, 2) }, { name: 'l', link: 'a/b/' }], true));
    const dest = fresh();
    await extractInto(dest, (staging) => unzipFile(zip, staging, { maxBytes: MiB }));
    expect(tree(dest)).toEqual(['a', 'b', 'l']);
    await expect(extractInto(fresh(), (staging) => unzipFile(zip, staging, { maxBytes: MiB - 1 }))).rejects.toBeInstanceOf(ArchiveTooLargeError);
    const open = fresh();
    await extractInto(open, (staging) => unzipFile(zip, staging));
    expect(tree(open)).toEqual(['a', 'b', 'l']);
  });

  it('refuses a zip whose central directory understates its sizes, leaving nothing', async () => {
    const real = await zipOf([{ name: 'small.txt', data: 'x' }, { name: 'big.bin', data: Buffer.alloc(4 * MiB) }], true);
    // The central directory entry of big.bin says it unpacks to 1,000 bytes.
    const central = real.indexOf(Buffer.from('504b0102', 'hex'), real.indexOf(Buffer.from('504b0102', 'hex')) + 1);
    expect(real.toString('latin1', central + 46, central + 53)).toBe('big.bin');
    real.writeUInt32LE(1000, central + 24);
    const zip = join(scratch, 'liar.zip');
    writeFileSync(zip, real);
    const dest = fresh();
    const error = await extractInto(dest, (staging) => unzipFile(zip, staging, { maxBytes: MiB })).catch((e: Error) => e);
    expect(error).toBeInstanceOf(ArchiveError);
    expect((error as Error).message).toMatch(/too many bytes in the stream|unpacks to more than 1 MiB/);
    expect(readdirSync(dest)).toEqual([]);
  });
});

describe('tar', () => {
  const files = [0, 1, 2].map((i) => ({ name: `part${i}.bin`, data: Buffer.alloc(400 * 1024, i + 1) }));

  it('refuses a tar once its headers pass the limit, counting every file, leaving nothing', async () => {
    const archive = await tarOf(files);
    const dest = fresh();
    const error = await extractInto(dest, (staging) => untarStream(Readable.from([archive]), staging, { maxBytes: MiB })).catch((e: Error) => e);
    expect(error).toBeInstanceOf(ArchiveTooLargeError);
    expect((error as Error).message).toBe('the archive unpacks to more than 1 MiB; nothing was extracted');
    expect(readdirSync(dest)).toEqual([]);
  });

  it('unpacks the same tar under a limit it fits, and refuses one 4 GiB file from its header alone', async () => {
    const dest = fresh();
    const archive = await tarOf(files);
    await extractInto(dest, (staging) => untarStream(Readable.from([archive]), staging, { maxBytes: 1200 * 1024 }));
    expect(tree(dest)).toEqual(['part0.bin', 'part1.bin', 'part2.bin']);
    expect(readFileSync(join(dest, 'part2.bin')).equals(files[2].data)).toBe(true);
    // A header claiming 4 GiB, then its data: refused at the header, long before the limit's worth is read.
    const header = (await tarOf([{ name: 'huge.bin', data: '' }])).subarray(0, 512);
    header.write('40000000000\0', 124, 'latin1'); // size, octal
    header.fill(' ', 148, 156);
    let sum = 0;
    for (const b of header) sum += b;
    header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
    let sent = 0;
    async function* body() {
      yield header;
      for (; sent < 4 * MiB; sent += 64 * 1024) yield Buffer.alloc(64 * 1024);
    }
    const big = fresh();
    const error = await extractInto(big, (staging) => untarStream(Readable.from(body()), staging, { maxBytes: MiB })).catch((e: Error) => e);
    expect(error).toBeInstanceOf(ArchiveTooLargeError);
    expect(sent).toBeLessThan(MiB);
    expect(readdirSync(big)).toEqual([]);
  });
});
