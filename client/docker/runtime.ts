// A runtime-client server in a Docker container of any image, from the host: start (build or
// mount the bundle, create, publish on 127.0.0.1, wait), pause/resume, close, attach, list. A
// DockerRuntime is the Docker backend's RuntimeHandle.
import { randomBytes } from 'node:crypto';
import { findBundle, mountCreateBody } from '@runtime-client/dockerfiles';
import type { ClientTuning, HandleState, RuntimeHandle, StopOptions } from '../backends/backend.js';
import { RuntimeError } from '../errors.js';
import { RuntimeClient } from '../runtime-client.js';
import { buildInjectedImage } from './build.js';
import { call, envOf, inspect, listRuntimeContainers, logsTail, pauseContainer, statusOf, stopContainer, unpauseContainer, type ContainerInspect } from './containers.js';
import { DockerRuntimeClient } from './guarded-client.js';
import { findContainer, infoFromInspect, infoFromSummary } from './lookup.js';
import { freePort, isPortConflict } from './ports.js';
import { CONTAINER_PORT, containerName, createBody, type ContainerSpec } from './spec.js';
import type { DockerAttachOptions, DockerRuntimeInfo, DockerStartOptions, DockerStartPhase } from './types.js';

const DEFAULT_STARTUP_MS = 60_000;
const PORT_ATTEMPTS = 3;

export class DockerRuntime implements RuntimeHandle<DockerRuntimeInfo> {
  readonly backend = 'docker';
  readonly sessionId: string;
  /** The full container id. */
  readonly containerId: string;
  /** The server's base URL, http://127.0.0.1:<host port>. */
  readonly url: string;
  /** The server's SESSION_API_KEY: 32 random bytes, hex. */
  readonly apiKey: string;
  /** Connected to the server; while the runtime is paused its calls fail fast with RuntimeError 'paused'. */
  readonly client: DockerRuntimeClient;
  readonly #info: DockerRuntimeInfo;
  #state: HandleState;

  private constructor(info: DockerRuntimeInfo, apiKey: string, state: HandleState, tuning: ClientTuning | undefined) {
    if (!info.url) throw new RuntimeError('docker', `container ${info.name} publishes no port for ${CONTAINER_PORT}/tcp`, { sessionId: info.sessionId });
    this.#info = info;
    this.sessionId = info.sessionId;
    this.containerId = info.id;
    this.url = info.url;
    this.apiKey = apiKey;
    this.#state = state;
    this.client = new DockerRuntimeClient({ ...tuning, url: info.url, apiKey }, {
      blocked: () => this.#blocked(),
      explain: (error) => this.#explain(error),
    });
  }

  /** The container id (RuntimeHandle's id). */
  get id(): string {
    return this.containerId;
  }

  /** What this object knows: `paused` after pause() (or once a call found the container paused), `closed` after close(). */
  get state(): HandleState {
    return this.#state;
  }

  /** The container's name, `runtime-client-<sessionId>`. */
  get name(): string {
    return containerName(this.sessionId);
  }

  /** The container as inspected when this object was made, with `state` as this object last saw it. */
  get info(): DockerRuntimeInfo {
    const state = this.#state === 'closed' ? 'stopped' : this.#state;
    return { ...this.#info, state, engineState: this.#state === 'closed' ? 'exited' : state };
  }

  /**
   * Builds (cached) or mounts the bundle, creates and starts the container with a fresh random
   * SESSION_API_KEY and the server's port published on a free 127.0.0.1 port, and waits until the
   * server answers. A container that dies or stays silent is removed, and its last log lines are
   * in the error's `data.logs`.
   */
  static async start(o: DockerStartOptions): Promise<DockerRuntime> {
    const startedAt = Date.now();
    const progress = (phase: DockerStartPhase, message: string) => o.onProgress?.({ phase, message, elapsedMs: Date.now() - startedAt });
    const sessionId = o.sessionId ?? randomBytes(6).toString('hex');
    const mode = o.mode ?? 'build';
    if (mode !== 'build' && mode !== 'mount') throw new TypeError(`mode must be "build" or "mount", got ${JSON.stringify(mode)}`);
    if (typeof o.baseImage !== 'string' || !o.baseImage) throw new TypeError('baseImage must name a local image');
    const apiKey = randomBytes(32).toString('hex'); // hex: never starts with '-', so `--key KEY` always parses
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

    let runtime: DockerRuntime;
    try {
      runtime = new DockerRuntime(infoFromInspect(await inspect(containerId)), apiKey, 'running', o.client);
    } catch (e) {
      await removeQuietly(containerId);
      throw e;
    }
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
   * Reconnects to a runtime container, e.g. after the host process restarted. `ref` is its session
   * id, its container name, or its container id (full, or a unique prefix of at least 4 hex digits).
   * The port comes from the container's binding and the API key from its SESSION_API_KEY. A stopped
   * container is started again (a fresh server: shell state is gone) unless `start: false`; a paused
   * one is returned paused. RuntimeError 'not_found' when there is no such container.
   */
  static async attach(ref: string, o: DockerAttachOptions = {}): Promise<DockerRuntime> {
    let c = await inspect((await findContainer(ref)).Id);
    const name = c.Name.slice(1);
    const apiKey = envOf(c, 'SESSION_API_KEY');
    if (!apiKey) throw new RuntimeError('docker', `container ${name} has no SESSION_API_KEY in its environment`, { ref });
    let startupTimeoutMs = 5_000; // a running server answers at once; a restarting one gets a little
    if (!c.State.Running) {
      if (o.start === false) throw new RuntimeError('docker', `container ${name} is ${c.State.Status} (attach with start: true to start it)`, { ref, state: c.State.Status });
      await call('POST', `/containers/${c.Id}/start`);
      c = await inspect(c.Id);
      startupTimeoutMs = DEFAULT_STARTUP_MS;
    }
    const runtime = new DockerRuntime(infoFromInspect(c), apiKey, c.State.Paused ? 'paused' : 'running', o.client);
    if (runtime.state === 'running') await runtime.#waitReady(o.startupTimeoutMs ?? startupTimeoutMs);
    return runtime;
  }

  /** Every runtime container on the engine (any state), found by its session label; newest first. */
  static async list(): Promise<DockerRuntimeInfo[]> {
    return (await listRuntimeContainers()).map(infoFromSummary);
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
      await pauseContainer(this.containerId);
    } catch (e) {
      this.#state = 'running';
      throw e;
    }
  }

  /** Thaws the container: the shells carry on where they were (cwd, variables, running jobs). */
  async resume(): Promise<void> {
    this.#assertOpen();
    await unpauseContainer(this.containerId);
    this.#state = 'running';
  }

  /**
   * Stops the container (SIGTERM: the server ends every session within 5 s; SIGKILL after 10 s)
   * and, unless `remove: false`, removes it. A stopped, kept container can be started again by
   * attach(). Closing twice, or a container already gone, is not an error.
   */
  async close({ remove = true }: StopOptions = {}): Promise<void> {
    const wasClosed = this.#state === 'closed';
    this.#state = 'closed';
    if (!wasClosed) await this.client.close();
    await stopContainer(this.containerId, remove);
  }

  /** The same as close(): RuntimeHandle's name for it. */
  stop(options?: StopOptions): Promise<void> {
    return this.close(options);
  }

  /** Polls /alive until it answers, and the container's state to fail early if it died. */
  async #waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      // Probes bounded by what is left of the budget: docker-proxy accepts a connection before
      // the server listens and holds it, so an unbounded probe could outlast the deadline.
      try {
        await this.client.waitUntilAlive({ timeoutMs: Math.max(1, Math.min(deadline - Date.now(), 1000)) });
        return;
      } catch (e) {
        if (!(e instanceof RuntimeError && e.code === 'not_ready')) throw e;
      }
      const c = await inspect(this.containerId);
      if (!c.State.Running) {
        const logs = await logsTail(this.containerId);
        throw new RuntimeError('docker', `${this.name} ${c.State.Status} (exit code ${c.State.ExitCode}) before its server answered${c.State.Error ? `: ${c.State.Error}` : ''}${logs ? `\n${logs}` : ''}`, {
          state: c.State.Status,
          exitCode: c.State.ExitCode,
          logs,
        });
      }
      if (Date.now() >= deadline) {
        const logs = await logsTail(this.containerId);
        throw new RuntimeError('not_ready', `the server in ${this.name} did not answer ${this.url}/alive within ${timeoutMs} ms${logs ? `\n${logs}` : ''}`, { logs });
      }
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
