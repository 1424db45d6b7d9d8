// The Docker backend's own shapes: what its start() and attach() take beyond every backend's
// options, and what it reports of a runtime beyond every backend's RuntimeInfo.
import type { AttachOptions, RuntimeInfo, StartOptions } from '../backends/backend.js';
import type { BindMount, InjectionMode } from './spec.js';

/** The steps of a Docker start, in order; `build` comes once per line of an image build. */
export type DockerStartPhase = 'build' | 'create' | 'start' | 'wait' | 'ready';

export interface DockerStartOptions extends StartOptions<DockerStartPhase> {
  /** A local image (there is no registry pull); the bundle is injected into it. Required. */
  baseImage: string;
  /** Bind mounts of host paths; each source must exist. Default: none. */
  mounts?: BindMount[];
  /** CPU limit, in CPUs, fractional allowed (HostConfig.NanoCpus). Default: no limit. */
  cpus?: number;
  /** Memory limit, in MiB, at least 6 (HostConfig.Memory). Default: no limit. */
  memoryMb?: number;
  /** Extra container labels; `dev.runtime-client.*` is reserved. Default: none. */
  labels?: Record<string, string>;
  /**
   * `build`: a cached injected image (built once per base image, bundle and options).
   * `mount`: the base image itself, the bundle bind-mounted read-only, no build. Default `build`.
   */
  mode?: InjectionMode;
  /** The bundle directory. Default: $RUNTIME_CLIENT_BUNDLE, else the package's dist/runtime-client. */
  bundleDir?: string;
}

export interface DockerAttachOptions extends AttachOptions {
  /** Start the container when it is stopped (after a host or engine restart, or stop({ remove: false })). Default true. */
  start?: boolean;
}

/** A runtime container, as `list()`, `info()` and a handle's `info` report it. */
export interface DockerRuntimeInfo extends RuntimeInfo {
  backend: 'docker';
  /** The full container id (the same as `id`). */
  containerId: string;
  /** The image the container runs: the injected image (`rc-injected/…`), or the base image in mount mode. */
  image: string;
  /** The image asked for (the container's label), or null when the label is missing. */
  baseImage: string | null;
  mode: InjectionMode | null;
  /** The engine's own state: created, running, paused, restarting, removing, exited or dead. */
  engineState: string;
}
