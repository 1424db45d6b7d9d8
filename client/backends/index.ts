// Runtime backends: the interface every one implements, and the registry that finds one by name.
export type {
  AttachOptions,
  ClientTuning,
  HandleState,
  ProgressEvent,
  RuntimeBackend,
  RuntimeHandle,
  RuntimeInfo,
  RuntimeRef,
  RuntimeState,
  StartOptions,
  StopOptions,
} from './backend.js';
export { GuardedRuntimeClient } from './guarded-client.js';
export type { ClientGuard } from './guarded-client.js';
export { getBackend, listBackends, registerBackend } from './registry.js';
export type { BackendFactory, KnownBackends } from './registry.js';
