// A streamed action: its raw output chunks in seq order, each exactly once across reconnects
// (`attach` from the next seq), then its observation.
import { Observation, OutputGapFrame } from '@runtime-client/protocol';
import { RuntimeError } from './errors.js';
import { wireError, type RawFrame, type StreamSink, type StreamSocket } from './stream-socket.js';
import type { ActionWait } from './timeouts.js';
import type { ActionInput, StreamGap, StreamHandle, StreamOptions } from './types.js';

/** What a stream needs from its client. */
export interface StreamContext {
  socket: StreamSocket;
  /** Sends an `is_input` run to `session` over HTTP. */
  input(text: string, session: string): Promise<Observation>;
}

export class ActionStream implements StreamHandle, StreamSink {
  readonly id: string;
  readonly observation: Promise<Observation>;
  readonly #action: ActionInput;
  readonly #wait: ActionWait;
  readonly #onGap: StreamOptions['onGap'];
  readonly #context: StreamContext;
  /** Chunks not yet read, and errors to throw where they happened (a gap). */
  #queue: (string | RuntimeError)[] = [];
  #head = 0;
  #lastSeq = -1;
  #finished = false;
  #failure: RuntimeError | null = null;
  #closedByUser = false;
  #iterated = false;
  #abandoned = false;
  #wake: (() => void) | null = null;
  #timer: NodeJS.Timeout | null = null;
  #resolve!: (observation: Observation) => void;
  #reject!: (error: RuntimeError) => void;

  constructor(id: string, action: ActionInput, wait: ActionWait, options: StreamOptions, context: StreamContext) {
    this.id = id;
    this.#action = action;
    this.#wait = wait;
    this.#onGap = options.onGap;
    this.#context = context;
    this.observation = new Promise<Observation>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // A caller that only iterates must not get an unhandled rejection; awaiting it still throws.
    this.observation.catch(() => {});
    this.#armTimer();
  }

  /** `execute` (idempotent by id) until a chunk has arrived, then `attach` from the next one. */
  resumeFrame(): Record<string, unknown> {
    if (this.#lastSeq < 0) return { type: 'execute', id: this.id, action: this.#action };
    return { type: 'attach', id: this.id, from_seq: this.#lastSeq + 1 };
  }

  onFrame(frame: RawFrame): void {
    if (this.#finished) return;
    if (this.#wait.idle) this.#armTimer();
    if (frame.type === 'output') {
      const { seq, data } = frame;
      if (typeof seq !== 'number' || typeof data !== 'string' || seq <= this.#lastSeq) return;
      if (seq > this.#lastSeq + 1) this.#gap(this.#lastSeq + 1, seq);
      this.#lastSeq = seq;
      this.#push(data);
    } else if (frame.type === 'observation') {
      if (!Observation.safeParse(frame.observation).success) {
        return this.onFail(new RuntimeError('unavailable', `GET /ws: the observation of ${this.id} does not match the protocol`, frame));
      }
      this.#finish();
      this.#resolve(frame.observation as Observation);
    } else if (frame.type === 'error') {
      const gap = OutputGapFrame.safeParse(frame);
      if (!gap.success) return this.onFail(wireError(frame));
      const { from_seq: from, first_seq: to } = gap.data.error.details;
      if (to <= this.#lastSeq + 1) return; // nothing this stream still lacks
      this.#gap(Math.max(from, this.#lastSeq + 1), to);
      this.#lastSeq = to - 1;
    }
  }

  onFail(error: RuntimeError): void {
    if (this.#finished) return;
    this.#finish();
    this.#failure = error;
    this.#reject(error);
  }

  sendInput(text: string): Promise<Observation> {
    const session = this.#action.args?.session;
    return this.#context.input(text, typeof session === 'string' ? session : 'default');
  }

  interrupt(): Promise<Observation> {
    return this.sendInput('C-c');
  }

  close(): void {
    if (this.#finished) return;
    this.#closedByUser = true;
    this.onFail(new RuntimeError('disconnected', `the stream of action ${this.id} was closed before its observation`));
  }

  [Symbol.asyncIterator](): AsyncIterator<string> {
    if (this.#iterated) throw new TypeError('a stream can be iterated only once');
    this.#iterated = true;
    return this.#chunks();
  }

  async *#chunks(): AsyncGenerator<string, void, undefined> {
    try {
      for (;;) {
        if (this.#closedByUser) return;
        if (this.#head < this.#queue.length) {
          const item = this.#take();
          if (typeof item === 'string') yield item;
          else throw item;
        } else if (this.#failure) throw this.#failure;
        else if (this.#finished) return;
        else await new Promise<void>((resolve) => (this.#wake = resolve));
      }
    } finally {
      // Broken out of (or thrown): stop buffering output nobody will read.
      this.#abandoned = true;
      this.#queue = [];
      this.#head = 0;
    }
  }

  #take(): string | RuntimeError {
    const item = this.#queue[this.#head++]!;
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  #push(item: string | RuntimeError): void {
    if (this.#abandoned) return;
    this.#queue.push(item);
    this.#wakeUp();
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  #gap(from: number, to: number): void {
    const gap: StreamGap = { id: this.id, from, to };
    if (this.#onGap) return this.#onGap(gap);
    this.#push(new RuntimeError('disconnected', `output chunks ${from} to ${to - 1} of action ${this.id} are no longer retained by the server`, gap));
  }

  #finish(): void {
    this.#finished = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#context.socket.remove(this.id);
    this.#wakeUp();
  }

  /** (Re)starts the client's wait; see timeouts.ts. */
  #armTimer(): void {
    const total = this.#wait.totalMs;
    if (total === null) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      const what = this.#wait.idle ? `nothing from action ${this.id} for ${total} ms` : `no observation of action ${this.id} within ${total} ms`;
      this.onFail(new RuntimeError('timeout', `${what} (its timeout plus the margin); it may still be running on the server`, { id: this.id, timeoutMs: total }));
    }, total);
  }
}
