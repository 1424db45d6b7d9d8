// One subscriber's bounded queue: the unit of back-pressure.
import type { StreamEvent } from './types.js';

/** An event whose publisher waits for room in this subscriber's queue. */
interface Blocked {
  event: StreamEvent;
  admitted: () => void;
}

/**
 * One subscriber's queue. Iterate it (once) with `for await`, or pass a handler to subscribe().
 * Events published after subscribe() returned arrive in seq order; earlier ones are not replayed.
 * The queue holds at most `limit` events; past that, publishers wait in seq order for room.
 */
export class Subscription implements AsyncIterable<StreamEvent> {
  /** Deepest the queue has been, in events: never above `limit`. */
  peakPending = 0;
  /** Resolves when the subscription ends (unsubscribe, or close() and drained); rejects with a handler's error. */
  readonly done: Promise<void>;
  private readonly queue: StreamEvent[] = [];
  private readonly blocked: Blocked[] = [];
  private active = true;
  private consumed = false;
  private takeWaiter: (() => void) | null = null;
  private settle!: { resolve: () => void; reject: (e: unknown) => void };

  /** @internal Made by EventStream.subscribe(). */
  constructor(
    readonly name: string,
    readonly limit: number,
    readonly filter: ((event: StreamEvent) => boolean) | undefined,
    private readonly detach: (sub: Subscription) => void,
    private readonly drained: () => boolean,
  ) {
    this.done = new Promise<void>((resolve, reject) => (this.settle = { resolve, reject }));
    this.done.catch(() => {}); // rejections are for whoever awaits `done`; never unhandled
  }

  /** Events queued for this subscriber, at most `limit`. */
  get pending(): number {
    return this.queue.length;
  }

  /** Publishes waiting for room in this queue. */
  get blockedPublishes(): number {
    return this.blocked.length;
  }

  get isActive(): boolean {
    return this.active;
  }

  /** Ends this subscription now: queued events are dropped and waiting publishers go on. */
  unsubscribe(): void {
    this.finish();
  }

  [Symbol.asyncIterator](): AsyncIterator<StreamEvent> {
    this.claim();
    return {
      next: async () => {
        const event = await this.take();
        return event ? { value: event, done: false } : { value: undefined, done: true };
      },
      return: async () => {
        this.finish();
        return { value: undefined, done: true };
      },
    };
  }

  /** @internal Marks the one consumer; a second one is a mistake. */
  claim(): void {
    if (this.consumed) throw new TypeError(`subscription ${this.name} is already being consumed`);
    this.consumed = true;
  }

  /** @internal The next event, waiting for one; undefined once the subscription has ended. */
  async take(): Promise<StreamEvent | undefined> {
    while (true) {
      const event = this.queue.shift();
      if (event) {
        this.admit();
        return event;
      }
      if (this.active && this.drained()) this.finish();
      if (!this.active) return undefined;
      await new Promise<void>((resolve) => (this.takeWaiter = resolve));
    }
  }

  /**
   * @internal Queues an event; resolves once it is in the queue (or not wanted, or the
   * subscription ended). Events offered in seq order keep that order.
   */
  offer(event: StreamEvent): Promise<void> {
    if (!this.active) return Promise.resolve();
    try {
      if (this.filter && !this.filter(event)) return Promise.resolve();
    } catch (e) {
      this.finish(e); // a broken filter ends its own subscription, not the stream
      return Promise.resolve();
    }
    if (this.blocked.length === 0 && this.queue.length < this.limit) {
      this.enqueue(event);
      return Promise.resolve();
    }
    return new Promise<void>((admitted) => this.blocked.push({ event, admitted }));
  }

  /** @internal The stream is closing: ends now if the queue is empty and nobody is busy with an event. */
  wake(): void {
    if (this.queue.length === 0 && (!this.consumed || this.takeWaiter)) this.finish();
  }

  /** @internal Ends the subscription, rejecting `done` when given an error. */
  finish(error?: unknown): void {
    if (!this.active) return;
    this.active = false;
    this.queue.length = 0;
    for (const b of this.blocked.splice(0)) b.admitted();
    this.detach(this);
    this.wakeTake();
    if (error === undefined) this.settle.resolve();
    else this.settle.reject(error);
  }

  private enqueue(event: StreamEvent): void {
    this.queue.push(event);
    if (this.queue.length > this.peakPending) this.peakPending = this.queue.length;
    this.wakeTake();
  }

  /** Moves blocked events into the room the consumer just made. */
  private admit(): void {
    while (this.blocked.length > 0 && this.queue.length < this.limit) {
      const b = this.blocked.shift()!;
      this.enqueue(b.event);
      b.admitted();
    }
  }

  private wakeTake(): void {
    const waiter = this.takeWaiter;
    this.takeWaiter = null;
    waiter?.();
  }
}
