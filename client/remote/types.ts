// The remote backend's own shapes: where the runtime API is, what its start() takes beyond every
// backend's options, and what it reports of a runtime beyond every backend's RuntimeInfo.
import type { PodStatus } from '@runtime-client/protocol';
import type { AttachOptions, RuntimeInfo, StartOptions } from '../backends/backend.js';

export interface RemoteBackendOptions {
  /** The runtime API's base URL, e.g. http://127.0.0.1:8000. Default: env RUNTIME_API_URL (one of the two is required). */
  url?: string;
  /** Sent as X-API-Key on every call. Default: env RUNTIME_API_KEY, else none (a service without a key, on loopback). */
  apiKey?: string;
  /** Time allowed for each call but /start, in ms. Default 10000. */
  timeoutMs?: number;
  /** Retries of a call that found no service or a 502/503/504, with backoff from 100 ms. Default 2. */
  retries?: number;
}

/** The steps of a remote start, in order. */
export type RemoteStartPhase = 'request' | 'wait' | 'ready';

/**
 * What POST /start takes. A session id that already has a runtime gets that runtime back (a paused
 * one resumed): the service keeps one runtime per session, so start() is get-or-create.
 */
export interface RemoteStartOptions extends StartOptions<RemoteStartPhase> {
  /** The image the runtime runs: one the service's backend has. Required. */
  image: string;
  /** Lifetime from now, in seconds; the runtime is stopped and removed at its end. Default: the service's --default-ttl (bounded by its --max-ttl). */
  ttlSeconds?: number;
  /** Paused after this many seconds without a request through its url. Default: the service's --idle-timeout. */
  idleTimeoutSeconds?: number;
  /** CPU limit, in CPUs, fractional allowed. Default: resourceFactor x the service's --base-cpus. */
  cpus?: number;
  /** Memory limit, in MiB. Default: resourceFactor x the service's --base-memory-mb. */
  memoryMb?: number;
  /** Scales the service's base CPUs and memory when cpus / memoryMb are not given. Default 1. */
  resourceFactor?: number;
  /** The engine's container runtime (e.g. runsc); one the engine lacks is refused. Default: the engine's. */
  runtimeClass?: string;
  /** Where the shells start. Default: the image's working directory. */
  workingDir?: string;
}

export type RemoteAttachOptions = AttachOptions;

/** A runtime as the runtime API reports it (list(), info(), a handle's info). */
export interface RemoteRuntimeInfo extends RuntimeInfo {
  backend: 'remote';
  /** The service's runtime id (`rt-` and 24 hex digits), the same as `id`. */
  runtimeId: string;
  /** Where the runtime's server is (ready: /alive answered 200; failed: it died). */
  podStatus: PodStatus;
  /** When the service stops and removes it: ISO 8601, UTC. */
  expiresAt: string;
  /** How often it went down behind the service's back. */
  restartCount: number;
  /** Why it went down, oldest first (e.g. `exited with status 137`). */
  restartReasons: string[];
  /** From list() only (null elsewhere): the last request through its url, ISO 8601 UTC. */
  lastActivityAt: string | null;
  /** From list() only (null elsewhere): its limits, in CPUs and MiB. */
  cpus: number | null;
  memoryMb: number | null;
}
