// Packing with reused read buffers: the pool hands buffers back only after the sink wrote them,
// so what arrives is what was on disk, and a sink or a file that fails mid-way fails the archive.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { createRequire } from 'node:module';
import { writeTar, writeZip } from '../../archive/pack.js';
import { BufferPool, flow } from '../../archive/pool.js';
import { unzipFile } from '../../archive/unzip.js';

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'rc-pack-'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const MiB = 2 ** 20;

function readlinkOrNull(path: string): string | null {
  try {
    return readlinkSync(path);
  } catch {
    return null; // closed meanwhile
  }
}

/** A sink that copies what it gets and calls back only when told to (a slow socket). */
function heldSink() {
  const got: Buffer[] = [];
  const held: (() => void)[] = [];
  let holding = true;
  const sink = new Writable({
    highWaterMark: 1,
    write(chunk: Buffer, _enc, cb) {
      got.push(Buffer.from(chunk));
      if (holding) held.push(() => cb());
      else cb();
    },
  });
  const release = () => {
    holding = false;
    for (const cb of held.splice(0)) cb();
  };
  return { sink, got, release };
}

describe('BufferPool', () => {
  it('waits while every buffer is out, takes back a slice of one, ignores foreign chunks, and fails waits once closed', async () => {
    const pool = new BufferPool(2, 1024);
    const a = await pool.take();
    const b = await pool.take();
    let third: Buffer | null = null;
    const waiting = pool.take().then((x) => (third = x));
    pool.release(Buffer.alloc(1024)); // not ours
    await new Promise((r) => setTimeout(r, 20));
    expect(third).toBeNull();
    pool.release(b.subarray(0, 10));
    await waiting;
    expect(third).toBe(b);
    const blocked = pool.take();
    pool.close(new Error('sink gone'));
    await expect(blocked).rejects.toThrow('sink gone');
    await expect(pool.take()).rejects.toThrow('sink gone');
    expect(a).not.toBe(b);
  });
});

/** `write` packing `root` into a held sink, 50 ms in: it has read all the pool holds and waits. */
async function packingHeld(root: string, write: typeof writeTar) {
  const held = heldSink();
  const packing = write(root, held.sink);
  await new Promise((r) => setTimeout(r, 50));
  return { packing, ...held };
}

const packers = [
  ['tar', writeTar],
  ['zip', writeZip],
] as const;
type Format = (typeof packers)[number][0];

/** Packs `root` into a held sink, lets the sink go once the packer waits, and unpacks what arrived (`tar`, or our unzip); returns where. */
async function throughHeldSink(format: Format, root: string, name: string): Promise<string> {
  const { packing, got, release } = await packingHeld(root, format === 'tar' ? writeTar : writeZip);
  release();
  await packing;
  const archive = join(scratch, `${name}.${format}`);
  writeFileSync(archive, Buffer.concat(got));
  const out = join(scratch, `${name}-out`);
  mkdirSync(out);
  if (format === 'tar') execFileSync('tar', ['-C', out, '-xf', archive]);
  else await unzipFile(archive, out);
  return out;
}

describe('writeTar and writeZip', () => {
  it.each(packers)('%s: sends every byte as it was on disk when the sink holds on to buffers (nothing overwritten before it is written)', async (format) => {
    const root = join(scratch, `tree-${format}`);
    mkdirSync(join(root, 'sub'), { recursive: true });
    // Sizes that are not multiples of the read size, more data than the pool holds.
    const files = { 'a.bin': randomBytes(3 * MiB + 17), 'sub/b.bin': randomBytes(5 * MiB - 3), 'sub/empty': Buffer.alloc(0), 'c.txt': Buffer.from('hello\n') };
    for (const [name, data] of Object.entries(files)) writeFileSync(join(root, name), data);
    symlinkSync('sub/b.bin', join(root, 'link'));
    const out = await throughHeldSink(format, root, `tree-${format}`);
    for (const [name, data] of Object.entries(files)) expect(readFileSync(join(out, name)).equals(data), name).toBe(true);
    expect(execFileSync('readlink', [join(out, 'link')], { encoding: 'utf8' }).trim()).toBe('sub/b.bin');
  });

  /** 300 small files of 0-300 KiB in 10 directories, with what each holds. */
  function smallTree(name: string): { root: string; files: Map<string, Buffer> } {
    const root = join(scratch, name);
    const files = new Map<string, Buffer>();
    for (let i = 0; i < 300; i++) {
      const rel = `d${i % 10}/f${i}.bin`;
      mkdirSync(join(root, `d${i % 10}`), { recursive: true });
      const data = randomBytes((i * 7919) % (300 * 1024));
      writeFileSync(join(root, rel), data);
      files.set(rel, data);
    }
    return { root, files };
  }

  it.each(packers)('%s: sends a tree of many small files whole while later files are read ahead of the sink', async (format) => {
    const { root, files } = smallTree(`small-${format}`);
    const out = await throughHeldSink(format, root, `small-${format}`);
    for (const [rel, data] of files) expect(readFileSync(join(out, rel)).equals(data), rel).toBe(true);
  });

  it.each(packers)('%s: closes every file it read ahead when the sink closes mid-way', async (format, write) => {
    // Files over one read (1 MiB), so the ones read ahead stay open until they are sent.
    const root = join(scratch, `cut-tree-${format}`);
    for (let i = 0; i < 24; i++) {
      mkdirSync(join(root, `d${i % 3}`), { recursive: true });
      writeFileSync(join(root, `d${i % 3}`, `f${i}.bin`), randomBytes(MiB + i * 37 * 1024));
    }
    const openFiles = () => readdirSync('/proc/self/fd').filter((fd) => readlinkOrNull(`/proc/self/fd/${fd}`)?.startsWith(root)).length;
    const { packing, sink } = await packingHeld(root, write);
    expect(openFiles()).toBeGreaterThan(1); // files are read ahead
    sink.destroy();
    await expect(packing).rejects.toThrow(/closed before the archive was sent/);
    await new Promise((r) => setTimeout(r, 50));
    expect(openFiles()).toBe(0);
  });

  /** A 32 MiB file (more than the pool holds) being packed into a sink that holds on to it: the packer is stalled on the pool. */
  async function stalled(name: string, write: typeof writeTar) {
    const root = join(scratch, name);
    mkdirSync(root);
    const path = join(root, 'big.bin');
    writeFileSync(path, randomBytes(32 * MiB));
    return { path, ...(await packingHeld(root, write)) };
  }
  it.each(packers)('%s: fails, rather than sending a short file, when a file shrinks while it is read', async (format, write) => {
    const { path, packing, release } = await stalled(`shrinks-${format}`, write);
    truncateSync(path, MiB);
    release();
    await expect(packing).rejects.toThrow(/big\.bin shrank while it was being sent/);
  });

  it.each(packers)('%s: fails, rather than waiting forever, when the sink closes mid-way', async (format, write) => {
    const { packing, sink } = await stalled(`cut-${format}`, write);
    sink.destroy();
    await expect(packing).rejects.toThrow(/closed before the archive was sent/);
  });

  it('writes to a file and leaves it open for the caller to end', async () => {
    const root = join(scratch, 'one');
    mkdirSync(root);
    writeFileSync(join(root, 'x'), 'x');
    const file = createWriteStream(join(scratch, 'one.tar'));
    await writeTar(root, file);
    expect(file.writableEnded).toBe(false);
    file.end();
    await finished(file);
    expect(execFileSync('tar', ['-tf', join(scratch, 'one.tar')], { encoding: 'utf8' })).toBe('x\n');
  });
});

describe('flow', () => {
  it('refuses a Transform as its sink: its callbacks come before anyone read the bytes', async () => {
    await expect(flow(new PassThrough(), new PassThrough(), () => {})).rejects.toThrow(/must be a final sink/);
  });
});

describe('zip CRC-32', () => {
  it("yazl's buffer-crc32 computes natively once pack is loaded, with the JavaScript results", () => {
    const require = createRequire(import.meta.url);
    // The one instance: yazl's dependency is the package's own (a second copy would stay slow).
    expect(createRequire(require.resolve('yazl')).resolve('buffer-crc32')).toBe(require.resolve('buffer-crc32'));
    const crc = require('buffer-crc32') as { unsigned: (b: Buffer, p?: number) => number; signed: (b: Buffer, p?: number) => number };
    expect(crc.unsigned.toString()).toMatch(/zlib\.crc32/);
    const data = randomBytes(3 * MiB + 5);
    let native = 0;
    let javascript = 0;
    for (let at = 0; at < data.length; at += MiB) {
      const part = data.subarray(at, at + MiB);
      native = crc.unsigned(part, native);
      javascript = crc.signed(part, javascript) >>> 0;
    }
    expect(native).toBe(javascript);
    expect(crc.unsigned(Buffer.from('123456789'))).toBe(0xcbf43926);
  });
});
