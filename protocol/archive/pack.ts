// Packing a file or directory tree as a streamed zip (yazl) or tar (tar-stream), modes, times and
// symlinks kept, with a few files open at a time (a tar reads ahead; a zip reads one file at a
// time): the server's downloads and the client's uploads.
import { createReadStream } from 'node:fs';
import { lstat, open, opendir, readlink, type FileHandle } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import tar from 'tar-stream';
import yazl from 'yazl';
import './native-crc32.cjs';
import { BufferPool, flow } from './pool.js';

interface Item {
  /** Path inside the archive. */
  name: string;
  abs: string;
  kind: 'file' | 'directory' | 'symlink';
  mode: number;
  size: number;
  mtime: Date;
}

/** The items of `root` (a file: itself; a directory: its contents, recursively), depth first. */
async function* walk(root: string): AsyncGenerator<Item> {
  const st = await lstat(root);
  if (!st.isDirectory()) {
    yield item(basename(root), root, st);
    return;
  }
  yield* walkDir(root, '');
}

async function* walkDir(abs: string, prefix: string): AsyncGenerator<Item> {
  const dir = await opendir(abs);
  for await (const d of dir) {
    const childAbs = join(abs, d.name);
    const name = prefix ? `${prefix}/${d.name}` : d.name;
    const st = await lstat(childAbs).catch(() => null);
    if (!st) continue; // removed while walking
    if (st.isDirectory()) {
      yield item(name, childAbs, st);
      yield* walkDir(childAbs, name);
    } else if (st.isFile() || st.isSymbolicLink()) yield item(name, childAbs, st);
    // sockets, fifos and devices are skipped
  }
}

function item(name: string, abs: string, st: import('node:fs').Stats): Item {
  const kind = st.isDirectory() ? 'directory' : st.isSymbolicLink() ? 'symlink' : 'file';
  return { name, abs, kind, mode: st.mode & 0o7777, size: st.size, mtime: st.mtime };
}

/** Read size, and buffers in flight: enough to keep the disk and the socket busy at once. */
const CHUNK = 2 ** 20;
const BUFFERS = 4;
/** Items of a tar prepared ahead of the one being sent (see readAhead). */
const AHEAD = 8;

/**
 * `from` sent into `out` (see `flow`) with a pool of read buffers that come back as `out` writes
 * them. A failed send closes the pool, so a reader waiting for a buffer stops.
 */
function pooled(from: Readable, out: Writable, extra = 0): { pool: BufferPool; sending: Promise<void> } {
  const pool = new BufferPool(BUFFERS + extra, CHUNK);
  const sending = flow(from, out, (chunk) => pool.release(chunk));
  sending.catch((e: Error) => pool.close(e));
  return { pool, sending };
}

/**
 * Writes `root` as a zip to `out` and resolves once all of it is written; `out` is not ended.
 * `compress`: deflate at level 1 (slower: ~30 MiB/s on incompressible data); else entries are
 * stored, their data read into reused buffers, so `out` must be a final sink (see `flow`).
 */
export async function writeZip(root: string, out: Writable, compress = false): Promise<void> {
  const zip = new yazl.ZipFile();
  const output = zip.outputStream as Readable;
  const { pool, sending } = pooled(output, out);
  // yazl does not watch the streams it is given: their failures (a file gone or shrunk) end the zip here.
  const fail = (e: Error) => output.destroy(e);
  zip.on('error', fail);
  try {
    for await (const it of walk(root)) {
      if (pool.closed) break; // the sink failed (a client hung up): its error is thrown below
      const opts = { mtime: it.mtime, mode: it.mode };
      if (it.kind === 'directory') zip.addEmptyDirectory(it.name, { ...opts, mode: 0o040000 | it.mode });
      else if (it.kind === 'symlink') {
        zip.addBuffer(Buffer.from(await readlink(it.abs)), it.name, { ...opts, mode: 0o120000 | 0o777, compress: false });
      } else {
        zip.addReadStreamLazy(it.name, { ...opts, mode: 0o100000 | it.mode, size: it.size, compressionLevel: compress ? 1 : 0 }, (cb) => {
          // Deflate keeps what it is given, so compressed entries read into fresh buffers.
          const data = compress ? createReadStream(it.abs, { highWaterMark: CHUNK }) : Readable.from(new FileRead(it, pool).chunks(), { objectMode: false });
          cb(null, data.once('error', fail));
        });
      }
    }
    zip.end();
  } catch (e) {
    fail(e as Error);
    await sending.catch(() => {});
    throw e;
  }
  await sending;
}

/**
 * Writes `root` as a tar to `out` and resolves once all of it is written; `out` is not ended. File
 * data is read into reused buffers, so `out` must be a final sink (see `flow`).
 */
export async function writeTar(root: string, out: Writable): Promise<void> {
  const pack = tar.pack();
  const { pool, sending } = pooled(pack as unknown as Readable, out, AHEAD);
  try {
    for await (const { it, file } of readAhead(walk(root), pool, AHEAD)) {
      const header = { name: it.name, mode: it.mode, mtime: it.mtime };
      if (it.kind === 'directory') await entry(pack, { ...header, type: 'directory' });
      else if (it.kind === 'symlink') await entry(pack, { ...header, type: 'symlink', linkname: await readlink(it.abs) });
      else {
        await entry(pack, { ...header, type: 'file', size: it.size }, async (sink) => {
          // The pool bounds what is in flight; the sink's backpressure is not needed on top.
          for await (const chunk of file!.chunks()) sink.write(chunk);
        });
      }
    }
    pack.finalize();
  } catch (e) {
    pack.destroy(e as Error);
    await sending.catch(() => {});
    throw e;
  }
  await sending;
}

/** Adds one entry; `body` writes its data (exactly `header.size` bytes) and returns when it has. */
function entry(pack: tar.Pack, header: Partial<tar.Header> & Pick<tar.Header, 'name'>, body?: (sink: Writable) => Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    const sink = pack.entry(header, (e) => (e ? reject(e) : resolve())) as unknown as Writable;
    if (!body) return;
    // Its failure is reported by the body's rejection (and the pack's); not a second time here.
    sink.on('error', () => {});
    body(sink).then(
      () => sink.end(),
      (e: Error) => {
        sink.destroy(e);
        reject(e);
      },
    );
  });
}

/** Items of the walk with each file's read started ahead: its open and first chunk. */
interface Ready {
  it: Item;
  /** For a file: read it with `chunks()`, or give it up with `discard()`. */
  file: FileRead | null;
}

/**
 * The walk's items, up to `depth` of them prepared while earlier ones are sent: a file's open and
 * first read (each a trip to the thread pool) no longer wait for the file before it. Sending a
 * tree of 256 KiB files took ~2.5x as long as sending big files of the same total size without
 * this. Each prepared file holds at most one pool buffer, so the pool needs `depth` more.
 */
async function* readAhead(items: AsyncIterable<Item>, pool: BufferPool, depth: number): AsyncGenerator<Ready> {
  const walker = items[Symbol.asyncIterator]();
  // An async generator answers next() calls in order, so several can be asked for at once.
  const fetch = () => {
    const p = walker.next().then((r): Ready | null => (r.done ? null : { it: r.value, file: r.value.kind === 'file' ? new FileRead(r.value, pool) : null }));
    p.catch(() => {}); // seen when awaited below, or dropped with the rest
    return p;
  };
  const queue = Array.from({ length: depth }, fetch);
  try {
    for (;;) {
      const ready = await queue.shift()!;
      if (!ready) return;
      queue.push(fetch());
      yield ready;
    }
  } finally {
    // Stopped early or failed: the files read ahead give their buffers back and close.
    for (const p of queue) await p.then((ready) => ready?.file?.discard(), () => {});
    await walker.return?.(undefined); // and the walk closes the directories it has open
  }
}

/**
 * One file's first `it.size` bytes, in pool buffers that the final sink gives back. The open and
 * the first read start at once; later reads run one chunk ahead of the sink. A file that shrinks
 * while it is read fails the archive rather than sending a wrong one.
 */
class FileRead {
  readonly #first: Promise<{ fh: FileHandle | null; chunk: Buffer | null }>;

  constructor(
    private readonly it: Item,
    private readonly pool: BufferPool,
  ) {
    this.#first = this.#start();
    this.#first.catch(() => {}); // seen by chunks() or discard()
  }

  async #start(): Promise<{ fh: FileHandle | null; chunk: Buffer | null }> {
    const fh = await open(this.it.abs, 'r');
    let chunk: Buffer | null = null;
    try {
      if (this.it.size > 0) chunk = await this.#read(fh, 0);
      if ((chunk?.length ?? 0) < this.it.size) return { fh, chunk };
      await fh.close(); // all of it is in the one chunk
      return { fh: null, chunk };
    } catch (e) {
      if (chunk) this.pool.release(chunk);
      await fh.close().catch(() => {});
      throw e;
    }
  }

  async #read(fh: FileHandle, at: number): Promise<Buffer> {
    const buf = await this.pool.take();
    try {
      const { bytesRead } = await fh.read(buf, 0, Math.min(this.pool.size, this.it.size - at), at);
      if (bytesRead === 0) throw new Error(`${this.it.name} shrank while it was being sent (${at} of ${this.it.size} bytes)`);
      return buf.subarray(0, bytesRead);
    } catch (e) {
      this.pool.release(buf);
      throw e;
    }
  }

  async *chunks(): AsyncGenerator<Buffer> {
    const { fh, chunk: first } = await this.#first;
    if (!fh) {
      if (first) yield first;
      return;
    }
    // Failures of a read ahead are seen when it is awaited, or dropped if it never is.
    const ahead = (at: number) => {
      const p = this.#read(fh, at);
      p.catch(() => {});
      return p;
    };
    let next: Promise<Buffer> | null = Promise.resolve(first!);
    try {
      for (let at = 0; next; ) {
        const chunk: Buffer = await next;
        at += chunk.length;
        next = at < this.it.size ? ahead(at) : null;
        yield chunk;
      }
    } finally {
      // Stopped early: the read ahead must finish (and give its buffer back) before the file closes.
      if (next) await next.then((chunk) => this.pool.release(chunk), () => {});
      await fh.close();
    }
  }

  /** Gives up a file that will not be sent. */
  async discard(): Promise<void> {
    const first = await this.#first.catch(() => null);
    if (first?.chunk) this.pool.release(first.chunk);
    await first?.fh?.close();
  }
}
