// @runtime-client/control: the runtime API service (RUNTIME-API.md) and what it stands on: the
// lifecycle core (clocks, limits, the reaper, the warm pool, durable state) and the drivers of
// the backends it starts sandboxes on (Docker first).
export { ControlError } from './errors.js';
export { LABELS, DriverError } from './driver.js';
export type { Driver, DriverEvent, ImageInfo, SandboxSpec, SandboxState } from './driver.js';
export { LifecycleError } from './lifecycle/api.js';
export type { Lifecycle, LifecycleErrorCode, LifecycleOptions, RuntimeRecord, StartParams } from './lifecycle/api.js';
export { openLifecycle, RuntimeLifecycle } from './lifecycle/lifecycle.js';
export type { LifecycleExtras } from './lifecycle/lifecycle.js';
export { startApiServer, ApiConfigError, runApiService } from './http/index.js';
export type { ApiServer, ApiServerOptions, ApiServiceOptions } from './http/index.js';
export { DockerDriver } from './docker/index.js';
export type { DockerDriverOptions, InjectedImage, WatchOptions } from './docker/index.js';
