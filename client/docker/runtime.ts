// A runtime-client server in a Docker container of any image, from the host: start (build or
// mount the bundle, create, publish on 127.0.0.1, wait), pause/resume, close, attach, list.
import { randomBytes } from 'node:crypto';
import { buildInjectedImage } from './build.js';
import { findBundle } from '@runtime-client/dockerfiles';
import { mountCreateBody } from '@runtime-client/dockerfiles';
import { RuntimeError } from '../errors.js';
import { RuntimeClient } from '../runtime-client.js';
import type { RuntimeClientOptions } from '../types.js';
import { call, envOf, hostPortOf, inspect, listRuntimeContainers, logsTail, statusOf, type ContainerInspect } from './containers.js';
import { DockerRuntimeClient } from './guarded-client.js';
import { freePort, isPortConflict } from './ports.js';
import {
  CONTAINER_PORT,
  LABEL_BASE,
  LABEL_MODE,
  LABEL_SESSION,
  checkSessionId,
  containerName,
  createBody,
  type BindMount,
  type ContainerSpec,
  type InjectionMode,
} from './spec.js';

export type StartPhase = 'build' | 'create' | 'start' | 'wait' | 'ready';

/** One step of `DockerRuntime.start()`; `build` comes once per line of the image build. */
export interface ProgressEvent {
  phase: StartPhase;
  message: string;
  /** Since start() was called, in ms. */
  elapsedMs: number;
}

/** RuntimeClient options other than the url and key, which the runtime supplies. */
export type ClientTuning = Omit<RuntimeClientOptions, 'url' | 'apiKey'>;

export interface StartOptions {
  /** A local image (there is no registry pull); the bundle is injected into it. */
  baseImage: string;
  /** Names the container `runtime-client-<sessionId>` and labels it. Default: 12 random hex digits. */
  sessionId?: string;
  /** Extra environment for the server and its shells. SESSION_API_KEY and RUNTIME_CLIENT_PORT are set by the runtime. */
  env?: Record<string, string>;
  /** Bind mounts of host paths. Default none. */
  mounts?: BindMount[];
  /** CPU limit, fractional allowed (HostConfig.NanoCpus). Default: no limit. */
  cpus?: number;
  /** Memory limit in MiB (HostConfig.Memory). Default: no limit. */
  memoryMb?: number;
  /** Extra container labels; `dev.runtime-client.*` is reserved. */
  labels?: Record<string, string>;
  /** How long the server may take to answer /alive once the container runs, in ms. Default 60000. */
  startupTimeoutMs?: number;
  /** Called at each step of the start, and for each line of an image build. */
  onProgress?: (event: ProgressEvent) => void;
  /** `build`: a cached injected image (buildInjectedImage). `mount`: the base image with the bundle bind-mounted read-only. Default `build`. */
  mode?: InjectionMode;
  /** The bundle directory; default: findBundle()'s. */
  bundleDir?: string;
  /** Passed to the RuntimeClient (timeouts, retries). */
  client?: ClientTuning;
}

export interface AttachOptions {
  /** Start the container when it is stopped (after a host or engine restart). Default true. */
  start?: boolean;
  /** How long a (re)started server may take to answer /alive, in ms. Default 60000. */
  startupTimeoutMs?: number;
  client?: ClientTuning;
}

/** A runtime container found by `DockerRuntime.list()`. */
export interface RuntimeInfo {
  sessionId: string;
  containerId: string;
  /** The container's name, `runtime-client-<sessionId>`. */
  name: string;
  /** The image the container runs. */
  image: string;
  /** The image asked for (the label), or null when the label is missing. */
  baseImage: string | null;
  mode: InjectionMode | null;
  /** The engine's state: created, running, paused, restarting, removing, exited or dead. */
  state: string;
  /** The server's URL while the port is published (running or paused), else null. */
  url: string | null;
}

/** What this object knows of its container: `closed` after close(). */
export type RuntimeState = 'running' | 'paused' | 'closed';

const DEFAULT_STARTUP_MS = 60_000;
const PORT_ATTEMPTS = 3;

export class DockerRuntime {
  #state: RuntimeState;
  /** Connected to the server; while the runtime is paused its calls fail fast with RuntimeError 'paused'. */
  readonly client: DockerRuntimeClient;

  private constructor(
    readonly sessionId: string,
    readonly containerId: string,
    /** The server's base URL, http://127.0.0.1:<host port>. */
    readonly url: string,
    apiKey: string,
    state: RuntimeState,
    tuning: ClientTuning | undefined,
  ) {
    this.#state = state;
    this.client = new DockerRuntimeClient({ ...tuning, url, apiKey }, {
      blocked: () => this.#blocked(),
      explain: (error) => this.#explain(error),
    });
  }

  get state(): RuntimeState {
    return this.#state;
  }

  /** The container's name, `runtime-client-<sessionId>`. */
  get name(): string {
    return containerName(this.sessionId);
  }

  /**
   * Builds (cached) or mounts the bundle, creates and starts the container with a fresh random
   * SESSION_API_KEY and the server's port published on a free 127.0.0.1 port, and waits until the
   * server answers. A container that dies or stays silent is removed, and its last log lines are
   * in the error's `data.logs`.
   */
  static async start(o: StartOptions): Promise<DockerRuntime> {
    const startedAt = Date.now();
    const progress = (phase: StartPhase, message: string) => o.onProgress?.({ phase, message, elapsedMs: Date.now() - startedAt });
    const sessionId = o.sessionId ?? randomBytes(6).toString('hex');
    const mode = o.mode ?? 'build';
    if (mode !== 'build' && mode !== 'mount') throw new TypeError(`mode must be "build" or "mount", got ${JSON.stringify(mode)}`);
    if (typeof o.baseImage !== 'string' || !o.baseImage) throw new TypeError('baseImage must name a local image');
    const apiKey = randomBytes(32).toString('base64url');
    const spec: ContainerSpec = {
      sessionId,
      image: o.baseImage,
      baseImage: o.baseImage,
      mode,
      apiKey,
      hostPort: 0,
      env: o.env,
      mounts: o.mounts,
      cpus: o.cpus,
      memoryMb: o.memoryMb,
      labels: o.labels,
    };
    // Every option is checked before a build that can take minutes (a client opens nothing until used).
    createBody(spec);
    await new RuntimeClient({ ...o.client, url: 'http://127.0.0.1:1' }).close();

    let image = o.baseImage;
    let base: Record<string, unknown> = { Image: image };
    try {
      if (mode === 'build') {
        progress('build', `injecting runtime-client into ${o.baseImage}`);
        image = (await buildInjectedImage({ baseImage: o.baseImage, bundleDir: o.bundleDir, onProgress: (line) => progress('build', line) })).image;
      } else {
        const bundleDir = findBundle(o.bundleDir).dir;
        progress('build', `mount mode: ${bundleDir} mounted read-only, no build`);
        base = mountCreateBody({ baseImage: o.baseImage, bundleDir });
      }
    } catch (e) {
      throw e instanceof RuntimeError ? e : new RuntimeError('docker', (e as Error).message);
    }

    const name = containerName(sessionId);
    let containerId = '';
    let hostPort = 0;
    for (let attempt = 1; !containerId; attempt++) {
      hostPort = await freePort();
      progress('create', `creating ${name} from ${image}, 127.0.0.1:${hostPort} -> ${CONTAINER_PORT}`);
      let id: string;
      try {
        id = (await call('POST', `/containers/create?name=${encodeURIComponent(name)}`, createBody({ ...spec, image, hostPort }, base))).Id;
      } catch (e) {
        if (statusOf(e) === 409) {
          throw new RuntimeError('docker', `a container named ${name} already exists: DockerRuntime.attach(${JSON.stringify(sessionId)}) or close it first`, { status: 409, sessionId });
        }
        throw e;
      }
      progress('start', `starting ${name} (${id.slice(0, 12)})`);
      try {
        await call('POST', `/containers/${id}/start`);
        containerId = id;
      } catch (e) {
        await removeQuietly(id);
        // Another process took the port between freePort() and the start: try another one.
        if (attempt < PORT_ATTEMPTS && isPortConflict((e as Error).message)) continue;
        throw e;
      }
    }

    const runtime = new DockerRuntime(sessionId, containerId, `http://127.0.0.1:${hostPort}`, apiKey, 'running', o.client);
    progress('wait', `waiting for ${runtime.url}/alive`);
    try {
      await runtime.#waitReady(o.startupTimeoutMs ?? DEFAULT_STARTUP_MS);
    } catch (e) {
      await runtime.close().catch(() => {});
      throw e;
    }
    progress('ready', `${name} is ready at ${runtime.url}`);
    return runtime;
  }

  /**
   * Reconnects to the runtime of `sessionId` (found by label), e.g. after the host process
   * restarted: the port comes from the container's binding and the API key from its SESSION_API_KEY.
   * A stopped container is started again (a fresh server: shell state is gone); a paused one is
   * returned paused. RuntimeError 'docker' when there is no such container.
   */
  static async attach(sessionId: string, o: AttachOptions = {}): Promise<DockerRuntime> {
    checkSessionId(sessionId);
    const [found] = await listRuntimeContainers(sessionId);
    if (!found) {
      throw new RuntimeError('docker', `no runtime container for session ${sessionId} (no container labelled ${LABEL_SESSION}=${sessionId})`, { status: 404, sessionId });
    }
    let c = await inspect(found.Id);
    const apiKey = envOf(c, 'SESSION_API_KEY');
    if (!apiKey) throw new RuntimeError('docker', `container ${c.Name.slice(1)} has no SESSION_API_KEY in its environment`, { sessionId });
    let startupTimeoutMs = 5_000; // a running server answers at once; a restarting one gets a little
    if (!c.State.Running) {
      if (o.start === false) throw new RuntimeError('docker', `container ${c.Name.slice(1)} is ${c.State.Status} (attach with start: true to start it)`, { sessionId, state: c.State.Status });
      await call('POST', `/containers/${c.Id}/start`);
      c = await inspect(c.Id);
      startupTimeoutMs = o.startupTimeoutMs ?? DEFAULT_STARTUP_MS;
    }
    const hostPort = hostPortOf(c);
    if (!hostPort) throw new RuntimeError('docker', `container ${c.Name.slice(1)} publishes no port for ${CONTAINER_PORT}/tcp`, { sessionId });
    const runtime = new DockerRuntime(sessionId, c.Id, `http://127.0.0.1:${hostPort}`, apiKey, c.State.Paused ? 'paused' : 'running', o.client);
    if (runtime.state === 'running') await runtime.#waitReady(o.startupTimeoutMs ?? startupTimeoutMs);
    return runtime;
  }

  /** Every runtime container on the engine (any state), found by its session label. */
  static async list(): Promise<RuntimeInfo[]> {
    return (await listRuntimeContainers()).map((c) => {
      const labels = c.Labels ?? {};
      const port = c.Ports.find((p) => p.PrivatePort === CONTAINER_PORT && p.Type === 'tcp' && p.PublicPort);
      const mode = labels[LABEL_MODE];
      return {
        sessionId: labels[LABEL_SESSION] ?? '',
        containerId: c.Id,
        name: (c.Names[0] ?? '').replace(/^\//, ''),
        image: c.Image,
        baseImage: labels[LABEL_BASE] ?? null,
        mode: mode === 'build' || mode === 'mount' ? mode : null,
        state: c.State,
        url: port ? `http://127.0.0.1:${port.PublicPort}` : null,
      };
    });
  }

  /**
   * Freezes every process of the container (docker pause). Until resume(), the client's calls
   * fail at once with RuntimeError 'paused'; calls already in flight wait and finish after resume().
   */
  async pause(): Promise<void> {
    this.#assertOpen();
    if (this.#state === 'paused') return;
    this.#state = 'paused'; // first, so that calls made meanwhile fail fast
    try {
      await call('POST', `/containers/${this.containerId}/pause`);
    } catch (e) {
      if (!/already paused/i.test((e as Error).message)) {
        this.#state = 'running';
        throw e;
      }
    }
  }

  /** Thaws the container: the shells carry on where they were (cwd, variables, running jobs). */
  async resume(): Promise<void> {
    this.#assertOpen();
    try {
      await call('POST', `/containers/${this.containerId}/unpause`);
    } catch (e) {
      if (!/not paused/i.test((e as Error).message)) throw e;
    }
    this.#state = 'running';
  }

  /**
   * Stops the container (SIGTERM: the server ends every session within 5 s) and, unless
   * `remove: false`, removes it. A stopped, kept container can be started again by attach().
   * Closing twice, or a container already gone, is not an error.
   */
  async close({ remove = true }: { remove?: boolean } = {}): Promise<void> {
    const wasClosed = this.#state === 'closed';
    this.#state = 'closed';
    if (!wasClosed) await this.client.close();
    try {
      const c = await inspect(this.containerId);
      if (c.State.Paused) await call('POST', `/containers/${this.containerId}/unpause`);
      if (c.State.Running) await call('POST', `/containers/${this.containerId}/stop?t=10`);
      if (remove) await call('DELETE', `/containers/${this.containerId}?force=true&v=true`);
    } catch (e) {
      if (statusOf(e) !== 404) throw e;
    }
  }

  /** Polls /alive until it answers, and the container's state to fail early if it died. */
  async #waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let checkedAt = Date.now();
    for (;;) {
      if (await this.client.alive()) return;
      if (Date.now() - checkedAt >= 1000) {
        checkedAt = Date.now();
        const c = await inspect(this.containerId);
        if (!c.State.Running) {
          const logs = await logsTail(this.containerId);
          throw new RuntimeError('docker', `${this.name} ${c.State.Status} (exit code ${c.State.ExitCode}) before its server answered${c.State.Error ? `: ${c.State.Error}` : ''}${logs ? `\n${logs}` : ''}`, {
            state: c.State.Status,
            exitCode: c.State.ExitCode,
            logs,
          });
        }
      }
      if (Date.now() >= deadline) {
        const logs = await logsTail(this.containerId);
        throw new RuntimeError('not_ready', `the server in ${this.name} did not answer ${this.url}/alive within ${timeoutMs} ms${logs ? `\n${logs}` : ''}`, { logs });
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Why a call may not be sent now, or null. */
  #blocked(): RuntimeError | null {
    if (this.#state === 'paused') return new RuntimeError('paused', `runtime ${this.sessionId} is paused: resume() it first`, { sessionId: this.sessionId });
    if (this.#state === 'closed') return new RuntimeError('unavailable', `runtime ${this.sessionId} is closed`, { sessionId: this.sessionId });
    return null;
  }

  /** A call that timed out or lost its connection: was the container paused behind our back? */
  async #explain(error: unknown): Promise<unknown> {
    if (!(error instanceof RuntimeError) || !['timeout', 'disconnected', 'unavailable'].includes(error.code)) return error;
    let c: ContainerInspect;
    try {
      c = await inspect(this.containerId);
    } catch {
      return error;
    }
    if (!c.State.Paused) return error;
    if (this.#state === 'running') this.#state = 'paused';
    return new RuntimeError('paused', `runtime ${this.sessionId} was paused (docker pause) while the call waited: resume() it first`, { sessionId: this.sessionId, cause: error });
  }

  #assertOpen(): void {
    if (this.#state === 'closed') throw new RuntimeError('unavailable', `runtime ${this.sessionId} is closed`, { sessionId: this.sessionId });
  }
}

async function removeQuietly(id: string): Promise<void> {
  await call('DELETE', `/containers/${id}?force=true&v=true`).catch(() => {});
}
