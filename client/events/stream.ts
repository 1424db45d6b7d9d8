// The ordered event stream: publish() delivers each event to every subscriber's queue in seq order.
import { randomUUID } from 'node:crypto';
import { Subscription } from './subscription.js';
import { EventStreamClosedError, type EventHandler, type EventInput, type EventStreamOptions, type StreamEvent, type SubscribeOptions } from './types.js';

/**
 * Events in one total order. publish() assigns `seq` in call order; each subscriber receives the
 * events it accepts in seq order, so all subscribers agree on the order.
 *
 * Back-pressure: a subscriber's queue holds at most `limit` events. When it is full, the event
 * waits (in seq order) until that subscriber takes one, and the promise publish() returns
 * resolves only once the event sits in every subscriber's queue. A publisher that awaits
 * publish() therefore never has more than the limits in memory; one that does not await keeps
 * its waiting events itself. Subscribers are independent: a full queue delays only the events
 * bound for it, so a handler may publish (connectRuntime does) as long as its own `filter`
 * keeps out the kind of events it publishes, or it may wait on itself.
 */
export class EventStream {
  private readonly subs = new Set<Subscription>();
  private readonly queueLimit: number;
  private nextSeq = 0;
  private nextName = 0;
  private closing = false;
  /** Closing, and every event published before close() delivered. */
  private drained = false;
  /** Deliveries not finished yet. */
  private readonly inflight = new Set<Promise<unknown>>();

  constructor(options: EventStreamOptions = {}) {
    this.queueLimit = checkLimit(options.queueLimit ?? 100, 'queueLimit');
  }

  /** Events published so far. */
  get size(): number {
    return this.nextSeq;
  }

  get isClosed(): boolean {
    return this.closing;
  }

  /** Active subscriptions. */
  get subscriptions(): Subscription[] {
    return [...this.subs];
  }

  /**
   * Adds a subscriber. With a handler, events are passed to it one at a time (awaiting what it
   * returns); a handler that throws ends its subscription and rejects `done`. Without one,
   * iterate the returned Subscription.
   */
  subscribe(handler?: EventHandler | SubscribeOptions, options: SubscribeOptions = {}): Subscription {
    if (this.closing) throw new EventStreamClosedError();
    if (handler !== undefined && typeof handler !== 'function') [options, handler] = [handler, undefined];
    const limit = checkLimit(options.limit ?? this.queueLimit, 'limit');
    const sub = new Subscription(options.name ?? `subscriber-${this.nextName++}`, limit, options.filter, (s) => this.subs.delete(s), () => this.drained);
    this.subs.add(sub);
    if (handler) void consume(sub, handler);
    return sub;
  }

  /** Publishes an event; resolves with it (seq, id, timestamp filled in) once every subscriber has it queued. */
  publish(input: EventInput): Promise<StreamEvent> {
    if (this.closing) return Promise.reject(new EventStreamClosedError());
    const event = {
      ...input,
      id: input.id ?? randomUUID(),
      seq: this.nextSeq++,
      timestamp: input.timestamp ?? new Date().toISOString(),
    } as StreamEvent;
    const delivered = Promise.all([...this.subs].map((sub) => sub.offer(event))).then(() => event);
    this.inflight.add(delivered);
    void delivered.then(() => this.inflight.delete(delivered));
    return delivered;
  }

  /**
   * Stops accepting events; events already published are still delivered. Resolves once every
   * subscriber has taken its last event (or unsubscribed).
   */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.inflight);
    this.drained = true;
    const subs = [...this.subs];
    for (const sub of subs) sub.wake();
    await Promise.all(subs.map((s) => s.done.catch(() => {})));
  }
}

async function consume(sub: Subscription, handler: EventHandler): Promise<void> {
  sub.claim();
  try {
    for (let event = await sub.take(); event; event = await sub.take()) await handler(event);
  } catch (e) {
    sub.finish(e);
  }
}

function checkLimit(n: number, name: string): number {
  if (!Number.isInteger(n) || n < 1) throw new TypeError(`${name} must be an integer of at least 1, got ${n}`);
  return n;
}
