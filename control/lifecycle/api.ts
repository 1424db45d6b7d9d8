// The lifecycle core as the HTTP layer (and, later, the MCP sandbox manager) uses it: no HTTP
// here. Implemented by lifecycle.ts over a Driver (../driver.ts) and a Store (store.ts).
import type { PodStatus, RuntimeStatus } from '@runtime-client/protocol';
import { ControlError } from '../errors.js';

/** One runtime as the service keeps it (in SQLite: it survives a restart of the service). */
export interface RuntimeRecord {
  runtimeId: string;
  sessionId: string;
  image: string;
  status: RuntimeStatus;
  podStatus: PodStatus;
  /** The session API key of its runtime-client: handed to the client in /start and /sessions, never logged. */
  apiKey: string;
  /** The driver's id for the sandbox (Docker: container id); null while it is being made. */
  sandboxId: string | null;
  /** runtime-client's URL as the service reaches it (the proxy's target); null when not running. */
  directUrl: string | null;
  /** Times in ms since the epoch. */
  createdAt: number;
  expiresAt: number;
  lastActivityAt: number;
  pausedAt: number | null;
  idleTimeoutSeconds: number;
  cpus: number;
  memoryMb: number;
  restartCount: number;
  restartReasons: string[];
}

export interface StartParams {
  image: string;
  sessionId: string;
  env?: Record<string, string>;
  workingDir?: string;
  username?: string;
  /** With `username`: its uid, to create it when the image lacks it (OpenHands' --user-id). */
  userId?: number;
  ttlSeconds?: number;
  idleTimeoutSeconds?: number;
  cpus?: number;
  memoryMb?: number;
  resourceFactor?: number;
  runtimeClass?: string;
}

export interface LifecycleOptions {
  /** Seconds. */
  defaultTtl: number;
  maxTtl: number;
  idleTimeout: number;
  pausedTtl: number;
  maxRuntimes: number;
  baseCpus: number;
  baseMemoryMb: number;
  maxCpus: number;
  maxMemoryMb: number;
  /** image -> how many ready runtimes to keep. */
  warm: Record<string, number>;
  /** Holds the SQLite database (state.db). */
  stateDir: string;
}

export interface Lifecycle {
  /** The labels every sandbox of this service carries (LABELS.managed, LABELS.service): how to find them in the engine. */
  readonly serviceLabels: Record<string, string>;
  /**
   * The session's runtime: the running one, the paused one resumed, or a new one (from the warm
   * pool when it has the image). Concurrent starts of one session make one runtime. Resolves once
   * its /alive answers 200 (pod_status ready). Limits out of bounds: LifecycleError bad_request
   * naming the field; at capacity: too_many_runtimes, nothing created.
   */
  start(params: StartParams): Promise<RuntimeRecord>;
  get(runtimeId: string): RuntimeRecord | undefined;
  bySession(sessionId: string): RuntimeRecord | undefined;
  list(status?: RuntimeStatus): RuntimeRecord[];
  pause(runtimeId: string, reason?: string): Promise<RuntimeRecord>;
  resume(runtimeId: string): Promise<RuntimeRecord>;
  /** Removes the sandbox; stopping a stopped runtime is not an error. */
  stop(runtimeId: string, reason?: string): Promise<RuntimeRecord>;
  /** Moves expires_at to now + ttlSeconds (bounded by --max-ttl). */
  renew(runtimeId: string, ttlSeconds: number): RuntimeRecord;
  /** Activity through the runtime's url: resets its idle clock. */
  touch(runtimeId: string): void;
  counts(): { running: number; paused: number };
  /** Why the backend is taken to be down (a call found it not answering, and it has not been reconciled with since), or null. */
  backendUnavailable(): string | null;
  /** Stops the reaper and the event watch; leaves every sandbox as it is. */
  close(): Promise<void>;
}

export type LifecycleErrorCode = 'not_found' | 'bad_request' | 'too_many_runtimes' | 'image_not_found' | 'backend_unavailable' | 'conflict' | 'internal';

export class LifecycleError extends ControlError {
  constructor(
    override readonly code: LifecycleErrorCode,
    message: string,
    /** For bad_request: the request field at fault (`cpus`, `memory_mb`, `ttl_seconds`...). */
    readonly field?: string,
    /** For too_many_runtimes: a hint for Retry-After. */
    readonly retryAfterSeconds?: number,
  ) {
    super(code, message);
    this.name = 'LifecycleError';
  }
}
