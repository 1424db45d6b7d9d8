// What the control plane needs of a backend: make a sandbox running runtime-client (injected, no
// build), pause, resume and remove it, find it again by its labels, and watch it. Docker is the
// first driver (control/docker/, the Engine API over its socket); local, SSH and Kubernetes follow.
// The lifecycle core (control/lifecycle/) holds every rule (clocks, limits, the warm pool) and
// knows drivers only through this interface.

import { ControlError } from './errors.js';

/** Labels the service puts on every sandbox it makes; reconciliation finds its own by them. */
export const LABELS = {
  /** Marks a sandbox made by a runtime-client control plane. */
  managed: 'dev.runtime-client.managed-by',
  /** Which service instance (its state dir's id): one service never touches another's sandboxes. */
  service: 'dev.runtime-client.service',
  runtimeId: 'dev.runtime-client.runtime-id',
  sessionId: 'dev.runtime-client.session-id',
  /** Set on a warm-pool sandbox until it is handed out. */
  warm: 'dev.runtime-client.warm',
} as const;

export interface SandboxSpec {
  runtimeId: string;
  sessionId: string;
  image: string;
  /** The shells' environment (the request's `environment`). */
  env: Record<string, string>;
  /** The session API key of the runtime-client inside (never logged). */
  apiKey: string;
  /** Where the shells start; default: the image's WORKDIR. */
  workingDir?: string;
  /** The shells' user (runtime-client --username); default: the image's USER. */
  username?: string;
  /** With `username`: the uid to create that user with when the image lacks it (runtime-client --user-id). */
  userId?: number;
  /**
   * Start runtime-client unconfigured (--await-config): it answers /alive and waits for one
   * POST /configure with the start key (`apiKey`), which brings the session's key, environment,
   * working dir and user. The warm pool's sandboxes are made so.
   */
  awaitConfig?: boolean;
  cpus: number;
  memoryMb: number;
  /** Most processes in the sandbox. */
  pidsLimit: number;
  /** The engine's container runtime (runsc, sysbox-runc); default: the engine's. */
  runtimeClass?: string;
  /** Every label in LABELS that applies, plus the driver's own. */
  labels: Record<string, string>;
}

/** What a driver knows of one sandbox it made. */
export interface SandboxState {
  /** The driver's id (Docker: the container id). */
  id: string;
  labels: Record<string, string>;
  /** created: not started; running; paused; exited: stopped or died (for good); restarting: died, and the backend is starting it again; removing; unknown. */
  status: 'created' | 'running' | 'paused' | 'exited' | 'restarting' | 'removing' | 'unknown';
  /** How often the engine restarted it, or it died and was started again. */
  restartCount: number;
  /** Set once it exited (or died and is restarting): its status, and whether the kernel's OOM killer struck in it. */
  exitCode?: number;
  oomKilled?: boolean;
  /** The URL of runtime-client inside, reachable from the service (null when not running). */
  url: string | null;
}

export interface DriverEvent {
  id: string;
  kind: 'start' | 'die' | 'oom' | 'pause' | 'unpause' | 'destroy';
  exitCode?: number;
  labels: Record<string, string>;
}

export interface ImageInfo {
  exists: boolean;
  sizeBytes?: number;
  /** ISO 8601. */
  createdAt?: string;
}

export interface Driver {
  /** The registry name (`docker`). */
  readonly name: string;
  /**
   * Makes and starts a sandbox; resolves once it runs (not once /alive answers: the lifecycle core
   * probes that). A failure leaves nothing behind. `image_not_found` when the image is missing.
   */
  create(spec: SandboxSpec, signal?: AbortSignal): Promise<SandboxState>;
  pause(id: string): Promise<void>;
  resume(id: string): Promise<void>;
  /** Removes it, running or not, with its anonymous volumes. Removing a removed sandbox is not an error. */
  remove(id: string): Promise<void>;
  inspect(id: string): Promise<SandboxState | null>;
  /** Every sandbox carrying all of these labels. */
  list(labels: Record<string, string>): Promise<SandboxState[]>;
  /** Follows the engine's events for sandboxes with these labels; returns a stop function. */
  watch(labels: Record<string, string>, onEvent: (event: DriverEvent) => void): () => void;
  image(image: string): Promise<ImageInfo>;
  /** The container runtimes the engine offers (for runtime_class). */
  runtimeClasses(): Promise<string[]>;
  /** Builds `contextTarGz` into the tags; resolves with the first tag, rejects with the build's error. */
  build(contextTarGz: Buffer, tags: string[], signal?: AbortSignal): Promise<string>;
  /**
   * Optional: calls `nudge` whenever the sandbox's server may just have become ready (Docker: it
   * wrote a line, as runtime-client logs `listening` and `default session ready`), until `signal`
   * aborts, so that the lifecycle probes /alive then instead of polling fast. Resolves when no more
   * nudges will come (the output ended or cannot be followed: the caller polls fast again).
   */
  readiness?(id: string, nudge: () => void, signal: AbortSignal): Promise<void>;
  /** Resolves when the engine answers; rejects (backend_unavailable) when it does not. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** A driver's failure, with a code the HTTP layer maps (image_not_found 400, backend_unavailable 503). */
export class DriverError extends ControlError {
  constructor(
    override readonly code: 'image_not_found' | 'image_not_injectable' | 'backend_unavailable' | 'bad_runtime_class' | 'engine',
    message: string,
    readonly status?: number,
  ) {
    super(code, message);
    this.name = 'DriverError';
  }
}
