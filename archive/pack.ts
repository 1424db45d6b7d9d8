// Packing a file or directory tree as a streamed zip (yazl) or tar (tar-stream), modes, times and
// symlinks kept, with a few files open at a time (the next ones are opened and read ahead while
// one is sent): the server's downloads and the client's uploads.
//
// Files are stat'ed, opened, read and closed with synchronous calls, not through libuv's thread
// pool: on the 2-core VM this is built on, `node bench/fs-calls.mjs` reads 2048 files of 256 KiB
// from the page cache with ~0.11 s of CPU that way against ~0.5 s with fs callbacks or
// fs/promises (each hand-off to the pool and back wakes two threads), and the server's CPU for a
// 1 GiB tar download went from 1.3-1.4 s to 0.83-0.89 s. A cold read holds the event loop for as
// long as the disk takes. Unpacking keeps its writes on the pool: done synchronously they used
// less CPU but serialised on one thread, and uploads and downloads into a directory got slower.
import { closeSync, constants, lstatSync, openSync, readSync, type Stats } from 'node:fs';
import { lstat, opendir, readlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import tar from 'tar-stream';
import yazl from 'yazl';
import './native-crc32.cjs';
import { ArchiveError } from './entries.js';
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

/** What an archive can hold: a file, a directory or a symlink (not a named pipe, socket or device). */
export function packable(st: Stats): boolean {
  return st.isFile() || st.isDirectory() || st.isSymbolicLink();
}

/** The items of `root` (a file: itself; a directory: its contents, recursively), depth first. */
async function* walk(root: string): AsyncGenerator<Item> {
  const st = await lstat(root);
  if (!packable(st)) throw new ArchiveError(`${root} is not a file, a directory or a symlink`, undefined, 'unpackable');
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
    let st: Stats;
    try {
      st = lstatSync(childAbs);
    } catch {
      continue; // removed while walking
    }
    if (!packable(st)) continue; // sockets, fifos and devices are skipped
    yield item(name, childAbs, st);
    if (st.isDirectory()) yield* walkDir(childAbs, name);
  }
}

function item(name: string, abs: string, st: Stats): Item {
  const kind = st.isDirectory() ? 'directory' : st.isSymbolicLink() ? 'symlink' : 'file';
  return { name, abs, kind, mode: st.mode & 0o7777, size: st.size, mtime: st.mtime };
}

/** Read size, and buffers in flight: enough to keep the disk and the socket busy at once. */
const CHUNK = 2 ** 20;
const BUFFERS = 4;
/** Items of a tar prepared ahead of the one being sent (see readAhead). */
const AHEAD = 8;
/** A zip's: files prepared by the walk, and files handed to yazl and not started (see writeZip). */
const ZIP_AHEAD = 4;
const ZIP_QUEUED = 4;

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
 * Files are prepared ahead as for a tar: yazl is handed at most ZIP_QUEUED files it has not
 * started, and the walk reads ahead ZIP_AHEAD more, each holding at most one pool buffer.
 */
export async function writeZip(root: string, out: Writable, compress = false): Promise<void> {
  const zip = new yazl.ZipFile();
  const output = zip.outputStream as Readable;
  const { pool, sending } = pooled(output, out, ZIP_AHEAD + ZIP_QUEUED);
  // yazl does not watch the streams it is given: their failures (a file gone or shrunk) end the zip here.
  const fail = (e: Error) => output.destroy(e);
  zip.on('error', fail);
  // Files handed to yazl and not started yet; the walk waits while there are ZIP_QUEUED of them.
  const queued = new Set<FileRead>();
  // Files handed to yazl and not read to the end (or given up) yet: a few at any time.
  const live = new Set<FileRead>();
  let room: (() => void) | null = null;
  const wake = () => {
    room?.();
    room = null;
  };
  sending.catch(wake);
  try {
    for await (const { it, file } of readAhead(walk(root), pool, ZIP_AHEAD)) {
      if (pool.closed) {
        await file?.discard();
        break; // the sink failed (a client hung up): its error is thrown below
      }
      const opts = { mtime: it.mtime, mode: it.mode };
      if (it.kind === 'directory') zip.addEmptyDirectory(it.name, { ...opts, mode: 0o040000 | it.mode });
      else if (it.kind === 'symlink') {
        zip.addBuffer(Buffer.from(await readlink(it.abs)), it.name, { ...opts, mode: 0o120000 | 0o777, compress: false });
      } else {
        queued.add(file!);
        live.add(file!);
        zip.addReadStreamLazy(it.name, { ...opts, mode: 0o100000 | it.mode, size: it.size, compressionLevel: compress ? 1 : 0 }, (cb) => {
          queued.delete(file!);
          wake();
          // Deflate keeps what it is given, so its input is copied out of the pool's buffers.
          const chunks = compress ? copied(file!.chunks(), pool) : file!.chunks();
          cb(null, Readable.from(tracked(chunks, () => live.delete(file!)), { objectMode: false }).once('error', fail));
        });
        while (queued.size >= ZIP_QUEUED && !pool.closed) await new Promise<void>((resolve) => (room = resolve));
      }
    }
    zip.end();
  } catch (e) {
    fail(e as Error);
    await sending.catch(() => {});
    throw e;
  } finally {
    // A failed zip: files yazl never read (or never started) give their buffers back and close.
    await sending.catch(async () => {
      for (const file of live) await file.discard();
    });
  }
  await sending;
}

/** `chunks`, calling `done` once they have been read to the end or given up (not if never started). */
async function* tracked(chunks: AsyncIterable<Buffer>, done: () => void): AsyncGenerator<Buffer> {
  try {
    yield* chunks;
  } finally {
    done();
  }
}

async function* copied(chunks: AsyncIterable<Buffer>, pool: BufferPool): AsyncGenerator<Buffer> {
  for await (const chunk of chunks) {
    const copy = Buffer.from(chunk);
    pool.release(chunk);
    yield copy;
  }
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
 * first read no longer wait for the file before it to be sent. Sending a tree of 256 KiB files
 * took ~2.5x as long as sending big files of the same total size without this. Each prepared
 * file holds at most one pool buffer, so the pool needs `depth` more.
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
  readonly #first: Promise<{ fh: number | null; chunk: Buffer | null }>;
  /** 'reading' once chunks() has started, 'given up' once discard() has run: each happens once. */
  #state: 'new' | 'reading' | 'given up' = 'new';

  constructor(
    private readonly it: Item,
    private readonly pool: BufferPool,
  ) {
    this.#first = this.#start();
    this.#first.catch(() => {}); // seen by chunks() or discard()
  }

  async #start(): Promise<{ fh: number | null; chunk: Buffer | null }> {
    // Non-blocking: a file swapped for a named pipe since the walk saw it fails its read (EOF or
    // EAGAIN) instead of holding this thread until a writer comes. Regular files ignore the flag.
    const fh = openSync(this.it.abs, constants.O_RDONLY | constants.O_NONBLOCK);
    let chunk: Buffer | null = null;
    try {
      if (this.it.size > 0) chunk = await this.#read(fh, 0);
      if ((chunk?.length ?? 0) < this.it.size) return { fh, chunk };
      closeSync(fh); // all of it is in the one chunk
      return { fh: null, chunk };
    } catch (e) {
      if (chunk) this.pool.release(chunk);
      try {
        closeSync(fh);
      } catch {
        // already failing
      }
      throw e;
    }
  }

  async #read(fh: number, at: number): Promise<Buffer> {
    const buf = await this.pool.take();
    try {
      const bytesRead = readSync(fh, buf, 0, Math.min(this.pool.size, this.it.size - at), at);
      if (bytesRead === 0) throw new ArchiveError(`${this.it.name} shrank while it was being sent (${at} of ${this.it.size} bytes)`, this.it.name, 'changed');
      return buf.subarray(0, bytesRead);
    } catch (e) {
      this.pool.release(buf);
      throw e;
    }
  }

  async *chunks(): AsyncGenerator<Buffer> {
    if (this.#state !== 'new') throw new Error(`${this.it.name}: read after it was ${this.#state === 'reading' ? 'read' : 'given up'}`);
    this.#state = 'reading';
    const { fh, chunk: first } = await this.#first;
    if (fh === null) {
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
      closeSync(fh);
    }
  }

  /** Gives up a file that will not be sent; nothing to do once chunks() has started (it closes the file). */
  async discard(): Promise<void> {
    if (this.#state !== 'new') return;
    this.#state = 'given up';
    const first = await this.#first.catch(() => null);
    if (first?.chunk) this.pool.release(first.chunk);
    if (first?.fh != null) closeSync(first.fh);
  }
}
