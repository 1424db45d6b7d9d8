// The Docker driver: sandboxes as containers of the engine, through its Engine API (dockerode
// over the socket DOCKER_HOST names, else /var/run/docker.sock), never the docker CLI (a spawn
// costs ~7 ms before the CLI even starts). Sandboxes run in mount mode (the base image itself,
// the bundle bound read-only, tini + runtime-client as the entrypoint) or, with inject 'image',
// from each base image's injected image (inject.ts: built once on the engine, nothing bound);
// port 60000 published on 127.0.0.1 at a port the engine picks.
import Docker from 'dockerode';
import { findBundle } from '@runtime-client/dockerfiles';
import { DriverError } from '../driver.js';
import type { Driver, DriverEvent, ImageInfo, SandboxSpec, SandboxState } from '../driver.js';
import { buildImage } from './build.js';
import { engineMessage, toDriverError } from './errors.js';
import { watchEvents } from './events.js';
import type { WatchOptions } from './events.js';
import { Injector } from './inject.js';
import type { InjectedImage } from './inject.js';
import { followOutput } from './readiness.js';
import { check, createRequest } from './spec.js';
import { stateOf } from './state.js';
import type { ContainerInspect } from './state.js';

export interface DockerDriverOptions {
  /** dockerode's connection options. Default: from DOCKER_HOST (and DOCKER_TLS_VERIFY, DOCKER_CERT_PATH), else /var/run/docker.sock. */
  docker?: Docker.DockerOptions;
  /** The runtime-client bundle bound into every sandbox. Default: findBundle() ($RUNTIME_CLIENT_BUNDLE, else dist/runtime-client), looked up at the first create. */
  bundleDir?: string;
  /** The host address runtime-client's port is published on; the sandbox's url uses it. Default 127.0.0.1. */
  hostIp?: string;
  /** How long ping() waits for the engine's answer. Default 5000 ms. */
  pingTimeoutMs?: number;
  /** How long any other call (but build and the event stream) waits before backend_unavailable. Default 60000 ms. */
  callTimeoutMs?: number;
  /** How a dropped event stream is opened again. */
  watch?: WatchOptions;
  /**
   * How runtime-client gets into a sandbox. `mount`: the base image with the bundle bound
   * read-only (no build; the bundle must be on the engine's file system). `image`: the base
   * image's injected image, built on the engine the first time (one build per base image and
   * bundle, shared by concurrent starts, found by its tag after), nothing bound. Default `mount`.
   */
  inject?: 'mount' | 'image';
  /** With inject `image`: told which image each sandbox got, and whether it was built for it. */
  onInjectedImage?: (image: InjectedImage) => void;
  /** With inject `image`: how long one injected image's build may take before it is cancelled and its starts fail. Default 300000 ms. */
  buildTimeoutMs?: number;
}

/** The Docker backend of the control plane (registry name `docker`). */
export class DockerDriver implements Driver {
  readonly name = 'docker';
  readonly docker: Docker;
  readonly #hostIp: string;
  readonly #pingTimeoutMs: number;
  readonly #callTimeoutMs: number;
  readonly #watchOptions: WatchOptions;
  readonly #watches = new Set<() => void>();
  /** Set in image mode. */
  readonly #injector: Injector | undefined;
  #bundleDir: string | undefined;

  constructor(options: DockerDriverOptions = {}) {
    this.docker = new Docker(options.docker);
    this.#bundleDir = options.bundleDir;
    this.#hostIp = options.hostIp ?? '127.0.0.1';
    this.#pingTimeoutMs = options.pingTimeoutMs ?? 5000;
    this.#callTimeoutMs = options.callTimeoutMs ?? 60_000;
    this.#watchOptions = options.watch ?? {};
    const inject = options.inject ?? 'mount';
    if (inject !== 'mount' && inject !== 'image') throw new TypeError(`inject must be 'mount' or 'image', got ${JSON.stringify(inject)}`);
    this.inject = inject;
    if (inject === 'image') {
      this.#injector = new Injector({
        docker: this.docker,
        bundle: () => findBundle(this.#bundle()),
        call: (what, fn) => this.#call(what, fn),
        onImage: options.onInjectedImage,
        buildTimeoutMs: options.buildTimeoutMs,
      });
    }
  }

  /** How runtime-client gets into sandboxes (DockerDriverOptions.inject). */
  readonly inject: 'mount' | 'image';

  /** The engine's address, for messages. */
  get where(): string {
    const m = this.docker.modem as unknown as { socketPath?: string; host?: string; port?: string | number; protocol?: string };
    return m.socketPath ? `unix://${m.socketPath}` : `${m.protocol ?? 'http'}://${m.host}:${m.port}`;
  }

  async create(spec: SandboxSpec, signal?: AbortSignal): Promise<SandboxState> {
    const { name, body } = createRequest(spec, await this.#injection(spec, signal), this.#hostIp);
    signal?.throwIfAborted();
    let id: string;
    try {
      // _query/_body: dockerode would otherwise copy the whole body (the key too) into the URL.
      id = (await this.#call('create', (abortSignal) => this.docker.createContainer({ _query: { name }, _body: body, abortSignal } as Docker.ContainerCreateOptions))).id;
    } catch (e) {
      if (e instanceof DriverError && e.status === 404 && /no such image/i.test(e.message)) {
        throw new DriverError('image_not_found', `the image ${spec.image} is not on the engine (the driver does not pull: build or load it first)`, 404);
      }
      throw e;
    }
    // The caller's signal is checked between the steps, not used to cut them: an engine call cut
    // short may still complete on the engine, after the clean-up looked.
    try {
      signal?.throwIfAborted();
      await this.#call('start', (abortSignal) => this.docker.getContainer(id).start({ abortSignal }));
      signal?.throwIfAborted();
      const state = stateOf(await this.#call('inspect', (abortSignal) => this.docker.getContainer(id).inspect({ abortSignal })));
      if (state.status !== 'running') throw new DriverError('engine', `the sandbox ${name} stopped at once (exit code ${state.exitCode ?? '?'}): ${await this.#logTail(id)}`);
      if (!state.url) throw new DriverError('engine', `the engine published no host port for ${name}'s port 60000`);
      signal?.throwIfAborted();
      return state;
    } catch (e) {
      await this.#removeQuietly(id);
      throw e;
    }
  }

  /** Nudges on each chunk of the sandbox's output (readiness.ts). */
  readiness(id: string, nudge: () => void, signal: AbortSignal): Promise<void> {
    return followOutput(this.docker, id, nudge, signal);
  }

  async pause(id: string): Promise<void> {
    try {
      await this.#call('pause', (abortSignal) => this.docker.getContainer(id).pause({ abortSignal }));
    } catch (e) {
      if (!/already paused/i.test((e as Error).message)) throw e;
    }
  }

  async resume(id: string): Promise<void> {
    try {
      await this.#call('unpause', (abortSignal) => this.docker.getContainer(id).unpause({ abortSignal }));
    } catch (e) {
      if (!/not paused/i.test((e as Error).message)) throw e;
    }
  }

  async remove(id: string): Promise<void> {
    try {
      await this.#call('remove', (abortSignal) => this.docker.getContainer(id).remove({ force: true, v: true, abortSignal }));
    } catch (e) {
      // Gone already, or on its way out: what the caller wanted.
      if ((e as DriverError).status === 404 || /already in progress/i.test((e as Error).message)) return;
      throw e;
    }
  }

  async inspect(id: string): Promise<SandboxState | null> {
    try {
      return stateOf(await this.#call('inspect', (abortSignal) => this.docker.getContainer(id).inspect({ abortSignal })));
    } catch (e) {
      if ((e as DriverError).status === 404) return null;
      throw e;
    }
  }

  async list(labels: Record<string, string>): Promise<SandboxState[]> {
    const label = labelFilters(labels, 'list');
    const rows = await this.#call('list', (abortSignal) => this.docker.listContainers({ all: true, filters: { label }, abortSignal }));
    // The summaries lack the restart count, exit code and OOM flag: one inspect each, at once.
    const states = await Promise.all(rows.map((row) => this.inspect(row.Id)));
    return states.filter((s): s is SandboxState => s !== null);
  }

  watch(labels: Record<string, string>, onEvent: (event: DriverEvent) => void): () => void {
    labelFilters(labels, 'watch');
    const stop = watchEvents(this.docker, labels, onEvent, this.#watchOptions);
    const unwatch = () => {
      this.#watches.delete(unwatch);
      stop();
    };
    this.#watches.add(unwatch);
    return unwatch;
  }

  async image(image: string): Promise<ImageInfo> {
    if (typeof image !== 'string' || !image.trim()) throw new TypeError(`image must be an image name, got ${JSON.stringify(image)}`);
    try {
      const info = await this.#call('image inspect', (abortSignal) => this.docker.getImage(image).inspect());
      const created = new Date(info.Created);
      return { exists: true, sizeBytes: info.Size, ...(Number.isNaN(created.getTime()) ? {} : { createdAt: created.toISOString() }) };
    } catch (e) {
      if ((e as DriverError).status === 404) return { exists: false };
      throw e;
    }
  }

  async runtimeClasses(): Promise<string[]> {
    const info = await this.#call('info', (abortSignal) => (this.docker as unknown as WithSignal).info({ abortSignal }));
    return Object.keys((info as { Runtimes?: Record<string, unknown> }).Runtimes ?? {}).sort();
  }

  async build(contextTarGz: Buffer, tags: string[], signal?: AbortSignal): Promise<string> {
    try {
      return await buildImage(this.docker, contextTarGz, tags, signal);
    } catch (e) {
      throw toDriverError(e, 'build', this.where);
    }
  }

  async ping(): Promise<void> {
    const timeout = AbortSignal.timeout(this.#pingTimeoutMs);
    try {
      await (this.docker as unknown as WithSignal).ping({ abortSignal: timeout });
    } catch (e) {
      if (timeout.aborted) throw new DriverError('backend_unavailable', `the docker engine at ${this.where} did not answer a ping within ${this.#pingTimeoutMs} ms`);
      const err = toDriverError(e, 'ping', this.where);
      // An engine that answers, but not with 200, is not one to start sandboxes on.
      throw err instanceof DriverError && err.code === 'engine' ? new DriverError('backend_unavailable', err.message, err.status) : err;
    }
  }

  async close(): Promise<void> {
    for (const unwatch of [...this.#watches]) unwatch();
  }

  /** Mount mode: the bundle dir. Image mode: the injected image of spec.image, found or built (a bad spec is refused first). */
  async #injection(spec: SandboxSpec, signal?: AbortSignal): Promise<string | { injectedImage: string }> {
    if (!this.#injector) return this.#bundle();
    check(spec);
    try {
      return { injectedImage: (await this.#injector.imageFor(spec.image, signal)).image };
    } catch (e) {
      if (signal?.aborted) throw signal.reason;
      throw toDriverError(e, 'build', this.where);
    }
  }

  #bundle(): string {
    this.#bundleDir ??= findBundle().dir;
    return this.#bundleDir;
  }

  /** One engine call under the call timeout (and the caller's signal), its failure as a DriverError. */
  async #call<T>(what: string, fn: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const timeout = AbortSignal.timeout(this.#callTimeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    // A race too: some of dockerode's calls take no signal (image inspect).
    let onAbort = () => {};
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(combined.reason);
      combined.addEventListener('abort', onAbort, { once: true });
    });
    try {
      return await Promise.race([fn(combined), aborted]);
    } catch (e) {
      if (signal?.aborted) throw signal.reason;
      if (timeout.aborted) throw new DriverError('backend_unavailable', `the docker engine at ${this.where} did not answer ${what} within ${this.#callTimeoutMs} ms`);
      throw toDriverError(e, what, this.where);
    } finally {
      combined.removeEventListener('abort', onAbort);
    }
  }

  async #removeQuietly(id: string): Promise<void> {
    try {
      await this.remove(id);
    } catch {
      // The engine is gone or refuses: reconciliation removes it by its labels later.
    }
  }

  /** The last lines the sandbox wrote, for the error of one that stopped at once. */
  async #logTail(id: string): Promise<string> {
    try {
      const raw = (await this.docker.getContainer(id).logs({ stdout: true, stderr: true, tail: 10, follow: false })) as unknown as Buffer;
      return demux(raw).trim().split('\n').slice(-10).join(' | ') || 'it wrote nothing';
    } catch (e) {
      return `its logs are unreadable (${engineMessage(e)})`;
    }
  }
}

/** dockerode's calls that take a signal, though its types do not say so. */
interface WithSignal {
  info(options: { abortSignal: AbortSignal }): Promise<unknown>;
  ping(options: { abortSignal: AbortSignal }): Promise<unknown>;
}

/** Label filters for the engine; no labels at all would take in every container of the engine. */
function labelFilters(labels: Record<string, string>, what: string): string[] {
  const entries = Object.entries(labels ?? {});
  if (entries.length === 0) throw new TypeError(`${what}() needs at least one label: without one it would take in every container of the engine`);
  return entries.map(([k, v]) => `${k}=${v}`);
}

/** The text of a non-TTY log stream (8-byte frame headers before each chunk). */
function demux(raw: Buffer): string {
  const parts: Buffer[] = [];
  let at = 0;
  while (at + 8 <= raw.length) {
    const size = raw.readUInt32BE(at + 4);
    parts.push(raw.subarray(at + 8, at + 8 + size));
    at += 8 + size;
  }
  return Buffer.concat(parts).toString('utf8');
}
