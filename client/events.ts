// Event stream entry: an agent publishes actions, a runtime answers with observations, and every
// subscriber (a UI, a logger) sees the same events in the same order, with bounded queues.
export { EventStream } from './events/stream.js';
export { Subscription } from './events/subscription.js';
export { connectRuntime } from './events/runtime.js';
export type { ActionExecutor, ConnectRuntimeOptions } from './events/runtime.js';
export { EventStreamClosedError } from './events/types.js';
export type {
  ActionEvent,
  EventHandler,
  EventInput,
  EventSource,
  EventStreamOptions,
  ObservationEvent,
  StreamEvent,
  SubscribeOptions,
} from './events/types.js';
