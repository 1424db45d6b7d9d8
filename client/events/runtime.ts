// The runtime side of an event stream: runs each action event and publishes its observation.
import { RuntimeError } from '../errors.js';
import type { ActionInput, Observation } from '../types.js';
import type { EventStream } from './stream.js';
import type { Subscription } from './subscription.js';
import type { ActionEvent, EventSource, StreamEvent } from './types.js';

/** What connectRuntime needs of a client; RuntimeClient is one. */
export interface ActionExecutor {
  execute(action: ActionInput, options: { id?: string }): Promise<Observation>;
}

export interface ConnectRuntimeOptions {
  /** Subscriber name. Default "runtime". */
  name?: string;
  /** Source of the observations it publishes. Default "runtime". */
  source?: EventSource;
  /** Most actions waiting to run, in events. Default: the stream's queueLimit. */
  limit?: number;
  /** Which action events to run. Default: all of them. */
  accept?: (event: ActionEvent) => boolean;
}

/**
 * Subscribes a runtime to the stream: each action event is run, in seq order and one at a time,
 * with `client.execute(event.action, { id: event.id })` (so a replayed event is not run twice by
 * the server), and its observation is published with `cause` = the action event's id. A failed
 * call becomes an error observation (`extras.error_id` = the RuntimeError code), so every action
 * gets exactly one answer. Only action events are queued: publishing an observation never waits
 * on this subscriber's own queue. `done` rejects if an observation cannot be published (the
 * stream closed first).
 */
export function connectRuntime(stream: EventStream, client: ActionExecutor, options: ConnectRuntimeOptions = {}): Subscription {
  const accept = options.accept ?? (() => true);
  const source = options.source ?? 'runtime';
  return stream.subscribe(
    async (event) => {
      if (event.kind !== 'action') return;
      const observation = await client.execute(event.action, { id: event.id }).catch(errorObservation);
      await stream.publish({ kind: 'observation', source, observation, cause: event.id });
    },
    {
      name: options.name ?? 'runtime',
      limit: options.limit,
      filter: (event: StreamEvent) => event.kind === 'action' && accept(event),
    },
  );
}

function errorObservation(error: unknown): Observation {
  const code = error instanceof RuntimeError ? error.code : 'internal';
  const message = error instanceof Error ? error.message : String(error);
  return { observation: 'error', content: `ERROR: ${message}`, extras: { error_id: code }, success: false };
}
