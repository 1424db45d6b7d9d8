// Docker runtimes from the host: each export named, so adding one is a decision.
export { DockerBackend } from './backend.js';
export { DockerRuntime } from './runtime.js';
export type { DockerAttachOptions, DockerRuntimeInfo, DockerStartOptions, DockerStartPhase } from './types.js';
export { DockerRuntimeClient } from './guarded-client.js';
export type { ClientGuard } from './guarded-client.js';
export { CONTAINER_PORT, CONTAINER_PREFIX, LABEL_BASE, LABEL_MODE, LABEL_SESSION, containerName, createBody } from './spec.js';
export type { BindMount, ContainerSpec, InjectionMode } from './spec.js';
export type { BuildOptions, BuildResult } from './build.js';
export type { BuildContext, ContextOptions } from './context.js';
