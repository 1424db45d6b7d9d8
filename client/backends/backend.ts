// The contract every runtime backend implements (Docker now; local, SSH, remote and Kubernetes
// later): start a runtime, find it again, list, pause, resume, stop. What a backend starts is a
// runtime-client server; what it hands back is a handle holding a RuntimeClient connected to it.
// Nothing here names Docker: options that only one backend has live in that backend's own types.
import type { RuntimeClient } from '../runtime-client.js';
import type { RuntimeClientOptions } from '../types.js';

/**
 * Where a runtime is, as every backend reports it:
 * - `starting`: created, its server not up yet (or being restarted)
 * - `running`: its server answers (or should: a handle's client finds out)
 * - `paused`: frozen; its processes keep their state, its server does not answer until resumed
 * - `stopping`: on its way to `stopped`
 * - `stopped`: not running; kept only if stopped with `remove: false` (attach may start it again)
 */
export type RuntimeState = 'starting' | 'running' | 'paused' | 'stopping' | 'stopped';

/** What a backend knows of one runtime, from `list()`, `info()` or a handle's `info`. */
export interface RuntimeInfo {
  /** The backend's registered name, e.g. `docker`. */
  backend: string;
  /** The runtime's id in its backend (Docker: the full container id). Any method taking a runtime takes it. */
  id: string;
  /** The session id the runtime was started with; any method taking a runtime takes it too. */
  sessionId: string;
  /** A name for people (Docker: the container name, `runtime-client-<sessionId>`). */
  name: string;
  state: RuntimeState;
  /** The image the runtime runs, or null for a backend without images (a local process). */
  image: string | null;
  /** When the runtime was created: ISO 8601, UTC; null when the backend cannot tell. */
  createdAt: string | null;
  /** The server's base URL while it can be reached (running or paused), else null. */
  url: string | null;
}

/** RuntimeClient options other than the url and key, which the backend supplies. */
export type ClientTuning = Omit<RuntimeClientOptions, 'url' | 'apiKey'>;

/** One step of a start. Each backend names its phases (Docker: build, create, start, wait, ready); `ready` is always last. */
export interface ProgressEvent<Phase extends string = string> {
  phase: Phase;
  /** One line for people. */
  message: string;
  /** Time since start() was called, in ms. */
  elapsedMs: number;
}

/** Options every backend's start() takes; a backend adds its own (DockerStartOptions: baseImage, mounts, limits...). */
export interface StartOptions<Phase extends string = string> {
  /**
   * The runtime's session id: 1-63 characters of A-Z a-z 0-9 _ . - starting with a letter or
   * digit. A session id in use is refused (a RuntimeError with the backend's code; Docker:
   * 'docker', data.status 409): attach() to it instead. Default: 12 random hex digits.
   */
  sessionId?: string;
  /**
   * Extra environment for the server and its shells. Default: none. SESSION_API_KEY and
   * RUNTIME_CLIENT_PORT are the backend's own (TypeError if given).
   */
  env?: Record<string, string>;
  /** How long the server may take to answer /alive once the runtime runs, in ms. Default 60000. */
  startupTimeoutMs?: number;
  /** Called at each step of the start. Default: none. (A method, so that a backend's options with its own phases are still StartOptions.) */
  onProgress?(event: ProgressEvent<Phase>): void;
  /** Passed to the handle's RuntimeClient (timeouts, retries). Default: RuntimeClient's defaults. */
  client?: ClientTuning;
}

/** Options every backend's attach() takes. */
export interface AttachOptions {
  /** How long the server may take to answer /alive, in ms. Default: 5000 for a running runtime, 60000 for one the backend had to start. */
  startupTimeoutMs?: number;
  /** Passed to the handle's RuntimeClient. Default: RuntimeClient's defaults. */
  client?: ClientTuning;
}

export interface StopOptions {
  /**
   * Remove the runtime once stopped. Default true. With false it is kept, stopped, and attach()
   * starts it again where the backend can (a fresh server: shell state is gone).
   */
  remove?: boolean;
}

/** What a handle's own object knows: `closed` once stop() was called through it. */
export type HandleState = 'running' | 'paused' | 'closed';

/**
 * One runtime, reached: its RuntimeClient (url and key) and what the backend knows of it. While
 * the handle knows the runtime is paused, the client's calls fail at once with RuntimeError
 * 'paused'; after stop(), with 'unavailable'.
 */
export interface RuntimeHandle<Info extends RuntimeInfo = RuntimeInfo> {
  /** The backend's registered name. */
  readonly backend: string;
  /** The runtime's id in its backend (`info.id`). */
  readonly id: string;
  readonly sessionId: string;
  /** The server's base URL. */
  readonly url: string;
  /** The server's API key (its SESSION_API_KEY), sent by `client`. */
  readonly apiKey: string;
  /** Connected to the server with `url` and `apiKey`. */
  readonly client: RuntimeClient;
  readonly state: HandleState;
  /** What the backend knew when the handle was made, with `state` as this handle last saw it (`closed` reads `stopped`). */
  readonly info: Info;
  /** Freezes the runtime. Pausing a paused runtime is not an error. */
  pause(): Promise<void>;
  /** Thaws it: its shells carry on where they were. Resuming a running runtime is not an error. */
  resume(): Promise<void>;
  /** Closes the client and stops the runtime (see StopOptions). Twice, or a runtime already gone, is not an error. */
  stop(options?: StopOptions): Promise<void>;
}

/**
 * A runtime: its id, its session id, or a backend's own name for it (Docker: a container id, full
 * or a unique prefix such as the 12 digits `ps` prints, or the container name); or a handle.
 * None that matches: RuntimeError 'not_found'.
 */
export type RuntimeRef = string | RuntimeHandle;

/**
 * A place runtimes run. Errors are RuntimeError: 'not_found' for a runtime nobody has, the
 * backend's own code for its failures (Docker: 'docker'), 'not_ready' for a server that never
 * answered; bad options are a TypeError naming the option, thrown before anything is started.
 */
export interface RuntimeBackend<
  Start extends StartOptions = StartOptions,
  Handle extends RuntimeHandle = RuntimeHandle,
  Info extends RuntimeInfo = RuntimeInfo,
  Attach extends AttachOptions = AttachOptions,
> {
  /** The name it is registered under. */
  readonly name: string;
  /** Starts a runtime and resolves once its server answers /alive. A runtime that fails to start is removed. */
  start(options: Start): Promise<Handle>;
  /** A handle on a runtime that exists, e.g. after the host process restarted (the key comes from the backend). */
  attach(ref: string, options?: Attach): Promise<Handle>;
  /** Every runtime of this backend, in any state. */
  list(): Promise<Info[]>;
  /** What the backend knows of one runtime now. */
  info(ref: RuntimeRef): Promise<Info>;
  /** Freezes a runtime (through its handle when given one, so the handle knows). */
  pause(ref: RuntimeRef): Promise<void>;
  /** Thaws a paused runtime. */
  resume(ref: RuntimeRef): Promise<void>;
  /** Stops a runtime, and removes it unless `remove: false`. Needs no key: it does not go through the server. */
  stop(ref: RuntimeRef, options?: StopOptions): Promise<void>;
}
