// Runtimes of a runtime API service (the control plane): each export named, so adding one is a decision.
export { RemoteBackend } from './backend.js';
export { RemoteRuntime } from './runtime.js';
export type { RemoteAttachOptions, RemoteBackendOptions, RemoteRuntimeInfo, RemoteStartOptions, RemoteStartPhase } from './types.js';
