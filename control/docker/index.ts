// The Docker driver of the control plane (the engine's API over its socket, no CLI).
export { DockerDriver } from './driver.js';
export type { DockerDriverOptions } from './driver.js';
export type { WatchOptions } from './events.js';
export type { InjectedImage } from './inject.js';
