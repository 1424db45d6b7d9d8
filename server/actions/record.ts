// One action as the server remembers it: its observation once known, and its raw output chunks
// (seq-numbered, a bounded window) for WebSocket subscribers that attach now or later.
import type { Observation } from '@runtime-client/protocol';
import { OutputWindow } from './window.js';

/** The most raw output one action keeps for late subscribers, in bytes. */
export const OUTPUT_WINDOW_BYTES = 8 * 1024 * 1024;

/** Someone streaming this action's output (a WebSocket). */
export interface Subscriber {
  /** Called for each chunk in seq order; returns false to ask for a pause (back-pressure). */
  output(seq: number, data: string): boolean;
  /** Chunks fromSeq..firstSeq-1 were dropped from the window before this subscriber got them; firstSeq is the first still held. */
  gap(fromSeq: number, firstSeq: number): void;
  observation(observation: Observation): void;
}

interface Cursor {
  next: number;
  paused: boolean;
}

export class ActionRecord {
  readonly startedAt = Date.now();
  finishedAt: number | null = null;
  observation: Observation | null = null;
  readonly done: Promise<Observation>;

  private readonly window = new OutputWindow(OUTPUT_WINDOW_BYTES);
  private readonly subscribers = new Map<Subscriber, Cursor>();
  private resolve!: (o: Observation) => void;

  /** Estimated bytes of the observation, once finished. */
  private observationBytes = 0;

  constructor(
    readonly id: string,
    readonly kind: string,
    readonly session: string,
    /** Identifies the action run under this id (kind, args, timeout), so a reused id can be told apart. */
    readonly fingerprint = '',
  ) {
    this.done = new Promise((resolve) => (this.resolve = resolve));
  }

  /** Bytes of raw output still held. */
  get outputBytes(): number {
    return this.window.size;
  }

  /** Bytes held in all, estimated: the observation and the raw output. */
  get retainedBytes(): number {
    return this.observationBytes + this.window.size;
  }

  /** `encoded`, when given, is `data` as UTF-8 (saves encoding it again); `data` may then be null. */
  pushOutput(data: string | null, encoded?: Buffer): void {
    this.window.push(data, encoded);
    for (const [sub, cursor] of this.subscribers) this.pump(sub, cursor);
  }

  finish(observation: Observation): void {
    if (this.observation) return;
    this.observation = observation;
    this.observationBytes = estimateBytes(observation);
    this.finishedAt = Date.now();
    this.resolve(observation);
    for (const [sub, cursor] of this.subscribers) this.pump(sub, cursor);
  }

  /** Streams chunks from `fromSeq` on, then the observation. */
  subscribe(sub: Subscriber, fromSeq = 0): void {
    const cursor = { next: fromSeq, paused: false };
    this.subscribers.set(sub, cursor);
    this.pump(sub, cursor);
  }

  unsubscribe(sub: Subscriber): void {
    this.subscribers.delete(sub);
  }

  /** A paused subscriber is ready for more. */
  resume(sub: Subscriber): void {
    const cursor = this.subscribers.get(sub);
    if (!cursor) return;
    cursor.paused = false;
    this.pump(sub, cursor);
  }

  /** Frees the output window (the observation stays). */
  dropOutput(): void {
    this.window.clear();
  }

  private pump(sub: Subscriber, cursor: Cursor): void {
    const w = this.window;
    while (!cursor.paused && cursor.next < w.nextSeq) {
      if (cursor.next < w.firstSeq) {
        sub.gap(cursor.next, w.firstSeq);
        cursor.next = w.firstSeq;
        continue;
      }
      const seq = cursor.next++;
      if (!sub.output(seq, w.get(seq))) cursor.paused = true;
    }
    if (!cursor.paused && cursor.next >= w.nextSeq && this.observation) {
      this.subscribers.delete(sub);
      sub.observation(this.observation);
    }
  }
}

/** Roughly the memory a parsed JSON value holds: string lengths plus a little per value. */
export function estimateBytes(value: unknown, depth = 0): number {
  if (typeof value === 'string') return 16 + value.length;
  if (typeof value !== 'object' || value === null || depth > 20) return 16;
  let bytes = 32;
  if (Array.isArray(value)) for (const item of value) bytes += estimateBytes(item, depth + 1);
  else for (const [key, item] of Object.entries(value)) bytes += key.length + estimateBytes(item, depth + 1);
  return bytes;
}
