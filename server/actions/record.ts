// One action as the server remembers it: its observation once known, and its raw output chunks
// (seq-numbered, a bounded window) for WebSocket subscribers that attach now or later.
import type { Observation } from '../../protocol/index.js';

/** The most raw output one action keeps for late subscribers, in characters. */
export const OUTPUT_WINDOW_CHARS = 8 * 1024 * 1024;

/** Someone streaming this action's output (a WebSocket). */
export interface Subscriber {
  /** Called for each chunk in seq order; returns false to ask for a pause (back-pressure). */
  output(seq: number, data: string): boolean;
  /** Chunks from..to-1 were dropped from the window before this subscriber got them. */
  gap(from: number, to: number): void;
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

  private chunks: string[] = [];
  private firstSeq = 0;
  private nextSeq = 0;
  private chars = 0;
  private readonly subscribers = new Map<Subscriber, Cursor>();
  private resolve!: (o: Observation) => void;

  constructor(
    readonly id: string,
    readonly kind: string,
    readonly session: string,
  ) {
    this.done = new Promise((resolve) => (this.resolve = resolve));
  }

  /** Characters of raw output still held. */
  get retainedChars(): number {
    return this.chars;
  }

  pushOutput(data: string): void {
    this.chunks.push(data);
    this.nextSeq++;
    this.chars += data.length;
    while (this.chars > OUTPUT_WINDOW_CHARS && this.chunks.length > 1) this.dropOldest();
    for (const [sub, cursor] of this.subscribers) this.pump(sub, cursor);
  }

  finish(observation: Observation): void {
    if (this.observation) return;
    this.observation = observation;
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
    while (this.chunks.length) this.dropOldest();
  }

  private dropOldest(): void {
    this.chars -= this.chunks.shift()!.length;
    this.firstSeq++;
  }

  private pump(sub: Subscriber, cursor: Cursor): void {
    while (!cursor.paused && cursor.next < this.nextSeq) {
      if (cursor.next < this.firstSeq) {
        sub.gap(cursor.next, this.firstSeq);
        cursor.next = this.firstSeq;
        continue;
      }
      const seq = cursor.next++;
      if (!sub.output(seq, this.chunks[seq - this.firstSeq]!)) cursor.paused = true;
    }
    if (!cursor.paused && cursor.next >= this.nextSeq && this.observation) {
      this.subscribers.delete(sub);
      sub.observation(this.observation);
    }
  }
}
