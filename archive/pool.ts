// Read buffers that are used again once the sink has written them. A fresh 1 MiB buffer per read
// is memory outside the JS heap, and V8 answers every few dozen MiB of it with a full garbage
// collection: ~70 per GiB sent, 0.5-0.7 s per GiB in a server's heap. A few buffers taken back
// after each write callback cost nothing.
import { Transform, type Readable, type Writable } from 'node:stream';
import { ArchiveError } from './entries.js';

export class BufferPool {
  readonly size: number;
  #free: Buffer[] = [];
  /** Each buffer by its memory, so a chunk cut from one (subarray) finds its way home. */
  #ours = new Map<ArrayBufferLike, Buffer>();
  #waiting: { resolve: (b: Buffer) => void; reject: (e: Error) => void }[] = [];
  #closed: Error | null = null;

  /** `count` buffers of `size` bytes, allocated now. */
  constructor(count: number, size: number) {
    this.size = size;
    for (let i = 0; i < count; i++) {
      const b = Buffer.allocUnsafeSlow(size);
      this.#free.push(b);
      this.#ours.set(b.buffer, b);
    }
  }

  /** A free buffer; waits for one while all are out. Rejects once the pool is closed. */
  take(): Promise<Buffer> {
    if (this.#closed) return Promise.reject(this.#closed);
    const b = this.#free.pop();
    if (b) return Promise.resolve(b);
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }));
  }

  /** Gives back the buffer under `chunk`, if it is one of ours (other chunks are ignored). */
  release(chunk: Buffer): void {
    const b = this.#ours.get(chunk.buffer);
    if (!b || this.#free.includes(b)) return;
    const next = this.#waiting.shift();
    if (next) next.resolve(b);
    else this.#free.push(b);
  }

  /** True once close() was called. */
  get closed(): boolean {
    return this.#closed !== null;
  }

  /** Fails every wait, now and later, with `error`: a reader blocked on a dead sink stops. */
  close(error: Error): void {
    this.#closed ??= error;
    for (const w of this.#waiting.splice(0)) w.reject(this.#closed);
  }
}

/**
 * Writes everything `from` emits to `to` (which is not ended), calling `written(chunk)` once `to` is
 * done with each chunk. Resolves when `from` has ended and every chunk is written; rejects if
 * either side fails or `to` closes first. `to` must be a final sink (a socket, an HTTP request or
 * response, a file): a Transform calls back before its reader has the bytes, so it is refused.
 */
export function flow(from: Readable, to: Writable, written: (chunk: Buffer) => void): Promise<void> {
  if (to instanceof Transform) return Promise.reject(new TypeError('flow: the destination must be a final sink, not a Transform (its write callback comes before the bytes are read)'));
  return new Promise((resolve, reject) => {
    let pending = 0;
    let ended = false;
    let done = false;
    let paused = false;
    const finish = (error?: Error | null) => {
      if (done) return;
      done = true;
      to.off('drain', onDrain);
      to.off('close', onClose);
      if (error) {
        from.destroy(error);
        reject(error);
      } else resolve();
    };
    const onDrain = () => {
      paused = false;
      from.resume();
    };
    const onClose = () => finish(new ArchiveError('the connection closed before the archive was sent', undefined, 'closed'));
    from.on('data', (chunk) => {
      pending++;
      const more = to.write(chunk, (error) => {
        pending--;
        written(chunk);
        if (error) finish(error);
        else if (ended && pending === 0) finish();
      });
      if (!more && !paused) {
        paused = true;
        from.pause();
        to.once('drain', onDrain);
      }
    });
    from.once('end', () => {
      ended = true;
      if (pending === 0) finish();
    });
    from.once('error', finish);
    // Left on when done: a socket can still fail later, and an 'error' nobody hears is a crash.
    to.on('error', finish);
    to.once('close', onClose);
  });
}
