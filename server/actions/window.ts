// The last few MiB of an action's raw output, by seq, in one preallocated byte ring: a fast
// printer produces no long-lived garbage (chunks kept as strings would survive young GCs and pile
// up in the old generation, ~100 MB of RSS while printing 1 GB).

const INITIAL_BYTES = 64 * 1024;
/**
 * Full-size rings given back by cleared windows, for the next window that grows to full size: a
 * fresh 8 MiB costs page faults on every first touch, a recycled one does not. At most two.
 */
const spares: Buffer[] = [];
const MAX_SPARES = 2;

export class OutputWindow {
  private buf: Buffer | null = null;
  /** Absolute byte offset of each retained chunk's start, oldest first, plus the end. */
  private starts: number[] = [];
  private head = 0;
  private end = 0;
  /** Seq of the oldest retained chunk. */
  private first = 0;
  private lastChunk: string | null = null;

  /** @param capacityBytes the most bytes kept; older chunks are dropped whole. */
  constructor(private readonly capacityBytes: number) {}

  /** Seq of the oldest chunk still held. */
  get firstSeq(): number {
    return this.first;
  }

  /** Seq the next chunk will get. */
  get nextSeq(): number {
    return this.first + this.starts.length - this.head;
  }

  /** Bytes held. */
  get size(): number {
    return this.head < this.starts.length ? this.end - this.starts[this.head]! : 0;
  }

  /**
   * `encoded`, when the caller has it, is `chunk` as UTF-8 (copied, not encoded again); `chunk`
   * may then be null (decoded only if a subscriber reads it).
   */
  push(chunk: string | null, encoded?: Buffer): void {
    let bytes = encoded ? encoded.length : Buffer.byteLength(chunk!);
    if (bytes > this.capacityBytes) {
      chunk = (chunk ?? encoded!.toString('utf8')).slice(-Math.floor(this.capacityBytes / 4));
      encoded = undefined;
      bytes = Buffer.byteLength(chunk);
    }
    while (this.size + bytes > this.capacityBytes) this.dropOldest();
    this.ensure(this.size + bytes);
    if (encoded) this.writeBytes(encoded, this.end);
    else this.write(chunk!, this.end);
    this.starts.push(this.end);
    this.end += bytes;
    this.lastChunk = chunk;
    if (this.head > 1024 && this.head * 2 > this.starts.length) {
      this.starts = this.starts.slice(this.head);
      this.head = 0;
    }
  }

  /** The chunk with this seq (must be between firstSeq and nextSeq). */
  get(seq: number): string {
    if (seq === this.nextSeq - 1 && this.lastChunk !== null) return this.lastChunk;
    const i = this.head + (seq - this.first);
    const start = this.starts[i]!;
    const stop = i + 1 < this.starts.length ? this.starts[i + 1]! : this.end;
    return this.read(start, stop);
  }

  /** Frees everything (seq numbering goes on). */
  clear(): void {
    if (this.buf && this.buf.length === this.capacityBytes && spares.length < MAX_SPARES && !spares.includes(this.buf)) spares.push(this.buf);
    this.first = this.nextSeq;
    this.starts = [];
    this.head = 0;
    this.buf = null;
    this.lastChunk = null;
  }

  private dropOldest(): void {
    this.head++;
    this.first++;
    if (this.head === this.starts.length) this.lastChunk = null;
  }

  /** Grows the ring (doubling, up to capacity) so it holds `needed` bytes. */
  private ensure(needed: number): void {
    const current = this.buf?.length ?? 0;
    if (needed <= current) return;
    // Grows by 4 (not 2): a fast printer re-lays its held bytes fewer times on its way to capacity.
    let size = Math.max(current, INITIAL_BYTES);
    while (size < needed) size *= 4;
    size = Math.min(size, this.capacityBytes);
    // A printer past the first step takes a recycled full-size ring when there is one.
    if (size > INITIAL_BYTES && spares.length) size = this.capacityBytes;
    const spare = size === this.capacityBytes ? spares.findIndex((b) => b.length === size) : -1;
    const next = spare === -1 ? Buffer.allocUnsafe(size) : spares.splice(spare, 1)[0]!;
    const from = this.head < this.starts.length ? this.starts[this.head]! : this.end;
    if (this.buf && this.end > from) {
      const old = this.buf;
      this.buf = next;
      // Re-lay the held bytes at their positions modulo the new size.
      const held = this.readBytes(old, from, this.end);
      this.writeBytes(held, from);
    } else {
      this.buf = next;
    }
  }

  private write(chunk: string, at: number): void {
    const buf = this.buf!;
    const pos = at % buf.length;
    const bytes = Buffer.byteLength(chunk);
    if (pos + bytes <= buf.length) buf.write(chunk, pos, 'utf8');
    else this.writeBytes(Buffer.from(chunk, 'utf8'), at);
  }

  private writeBytes(bytes: Buffer, at: number): void {
    const buf = this.buf!;
    const pos = at % buf.length;
    const firstPart = Math.min(bytes.length, buf.length - pos);
    bytes.copy(buf, pos, 0, firstPart);
    if (firstPart < bytes.length) bytes.copy(buf, 0, firstPart);
  }

  private readBytes(buf: Buffer, start: number, stop: number): Buffer {
    const a = start % buf.length;
    const len = stop - start;
    if (a + len <= buf.length) return buf.subarray(a, a + len);
    return Buffer.concat([buf.subarray(a), buf.subarray(0, len - (buf.length - a))]);
  }

  private read(start: number, stop: number): string {
    return this.readBytes(this.buf!, start, stop).toString('utf8');
  }
}
