// File I/O of the archive code is synchronous, but for creating files: reads, writes, closes and
// metadata are plain system calls on this thread, not round trips through libuv's thread pool. On the
// 2-core VM this project is built on, `node bench/fs-calls.mjs` (2048 files of 256 KiB in the page
// cache) reads them with ~0.11 s of CPU using sync calls against ~0.5 s with fs callbacks or
// fs/promises, and writes them with ~0.22 s against ~1.2 s through createWriteStream: each hand-off
// to the pool and back wakes two threads, which costs more than copying 256 KiB. End to end, the
// server's CPU for a 1 GiB tar download went from 1.3-1.4 s to 0.83-0.89 s. The price: a call
// that waits for the disk (a cold read, a write throttled by writeback) holds the event loop for
// that long; page-cache I/O takes microseconds per call.
import { closeSync, open, writeSync } from 'node:fs';
import { Writable } from 'node:stream';

/** A writable that creates (or truncates) `path` with `mode` and writes each chunk synchronously. */
export class FileSink extends Writable {
  #fd: number | null = null;

  constructor(
    readonly path: string,
    private readonly mode = 0o600,
  ) {
    super();
  }

  // The one call made on the thread pool: creating a file can wait for the file system's journal
  // (~1 ms a file while a tree is unpacked here), and several such waits overlap there.
  override _construct(callback: (error?: Error | null) => void): void {
    open(this.path, 'w', this.mode, (error, fd) => {
      if (error) return callback(error);
      this.#fd = fd;
      callback();
    });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    try {
      writeAll(this.#fd!, chunk);
      callback();
    } catch (e) {
      callback(e as Error);
    }
  }

  override _final(callback: (error?: Error | null) => void): void {
    try {
      const fd = this.#fd!;
      this.#fd = null;
      closeSync(fd);
      callback();
    } catch (e) {
      callback(e as Error);
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.#fd !== null) {
      try {
        closeSync(this.#fd);
      } catch {
        // the error being reported matters more
      }
      this.#fd = null;
    }
    callback(error);
  }
}

/** Writes all of `data` at the file's current offset. */
export function writeAll(fd: number, data: Uint8Array): void {
  for (let done = 0; done < data.length; ) done += writeSync(fd, data, done, data.length - done);
}
