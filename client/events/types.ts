// The shapes of events and the options of the event stream.
import type { ActionInput, Observation } from '../types.js';
import { RuntimeError } from '../errors.js';

/** Who published an event. Free-form beyond the usual ones. */
export type EventSource = 'agent' | 'runtime' | 'user' | 'environment' | (string & {});

interface EventBase {
  /** Unique id; for an action, also the server's idempotency id. Default a random UUID. */
  id: string;
  /** Position in this stream, from 0, no gaps: the order every subscriber sees. */
  seq: number;
  source: EventSource;
  /** ISO 8601 time of publish(). */
  timestamp: string;
  /** Id of the event this one answers (an observation's action). */
  cause?: string;
}
export interface ActionEvent extends EventBase {
  kind: 'action';
  action: ActionInput;
}
export interface ObservationEvent extends EventBase {
  kind: 'observation';
  observation: Observation;
  cause: string;
}
export type StreamEvent = ActionEvent | ObservationEvent;

/** What publish() takes: an event without seq; id and timestamp are filled in when missing. */
export type EventInput =
  | (Omit<ActionEvent, 'seq' | 'id' | 'timestamp'> & { id?: string; timestamp?: string })
  | (Omit<ObservationEvent, 'seq' | 'id' | 'timestamp'> & { id?: string; timestamp?: string });

export type EventHandler = (event: StreamEvent) => void | Promise<void>;

export interface EventStreamOptions {
  /** Default queue limit of a subscriber, in events. Default 100. */
  queueLimit?: number;
}

export interface SubscribeOptions {
  /** For logs and errors. Default `subscriber-N`. */
  name?: string;
  /** Most events waiting for this subscriber; a full queue makes publish() wait. Default: the stream's queueLimit. */
  limit?: number;
  /** Only events for which this is true are queued; the others never wait on this subscriber. */
  filter?: (event: StreamEvent) => boolean;
}

/** Thrown by publish() and subscribe() after close(). */
export class EventStreamClosedError extends RuntimeError {
  constructor() {
    super('stream_closed', 'the event stream is closed');
    this.name = 'EventStreamClosedError';
  }
}

