// The client package entry: every export named, so adding one is a decision. Nothing here may
// import the server (no express, no node-pty); test/client/entry.test.ts checks.
export { RuntimeClient } from './runtime-client.js';
export { RuntimeError } from './errors.js';
export type { RuntimeErrorCode } from './errors.js';
export type {
  CommandResult,
  CellResult,
  IpythonOptions,
  ExecuteOptions,
  RunOptions,
  RuntimeClientOptions,
  ServerInfo,
  SessionInfo,
  StreamGap,
  StreamHandle,
  StreamOptions,
  WaitOptions,
} from './types.js';
export type { DownloadOptions, UploadOptions, UploadResult } from './files.js';
export { GuardedRuntimeClient, getBackend, listBackends, registerBackend } from './backends/index.js';
export type {
  AttachOptions,
  BackendFactory,
  ClientGuard,
  ClientTuning,
  HandleState,
  KnownBackends,
  ProgressEvent,
  RuntimeBackend,
  RuntimeHandle,
  RuntimeInfo,
  RuntimeRef,
  RuntimeState,
  StartOptions,
  StopOptions,
} from './backends/index.js';
export { DockerBackend, DockerRuntime, DockerRuntimeClient } from './docker/index.js';
export type {
  BindMount,
  BuildContext,
  BuildOptions,
  BuildResult,
  ContextOptions,
  DockerAttachOptions,
  DockerRuntimeInfo,
  DockerStartOptions,
  DockerStartPhase,
  InjectionMode,
} from './docker/index.js';
export { RemoteBackend, RemoteRuntime } from './remote/index.js';
export type { RemoteAttachOptions, RemoteBackendOptions, RemoteRuntimeInfo, RemoteStartOptions, RemoteStartPhase } from './remote/index.js';
export { EventStream, EventStreamClosedError, Subscription, connectRuntime } from './events.js';
export type { ActionEvent, ActionExecutor, ConnectRuntimeOptions, EventHandler, EventInput, EventSource, EventStreamOptions, ObservationEvent, StreamEvent, SubscribeOptions } from './events.js';
export {
  ACTION_KINDS,
  ActionEnvelope,
  ClientFrame,
  DEFAULT_PORT,
  EditArgs,
  ErrorBody,
  ErrorObservation,
  ExecuteRequest,
  ReadArgs,
  HTTP_STATUS,
  Observation,
  RunArgs,
  RunMetadata,
  RunObservation,
  ServerFrame,
  SessionName,
  WriteArgs,
} from '@runtime-client/protocol';
export type { ActionInput, ActionKind, ErrorCode } from '@runtime-client/protocol';
