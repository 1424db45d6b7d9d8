// The remote backend: RuntimeBackend over the runtime API (RUNTIME-API.md), the control plane
// that starts, tracks, limits and reaps runtimes on its own engine. Nothing here touches an engine.
import { ApiSessionId, RuntimeId, StartRequest, type RuntimeResponse, type RuntimeStatus } from '@runtime-client/protocol';
import type { RuntimeBackend, RuntimeRef, StopOptions } from '../backends/backend.js';
import { RuntimeError } from '../errors.js';
import { RuntimeClient } from '../runtime-client.js';
import { randomBytes } from 'node:crypto';
import { RuntimeApi } from './api.js';
import { infoOf, infoOfEntry } from './info.js';
import { RemoteRuntime } from './runtime.js';
import type { RemoteAttachOptions, RemoteBackendOptions, RemoteRuntimeInfo, RemoteStartOptions, RemoteStartPhase } from './types.js';

const DEFAULT_STARTUP_MS = 60_000;
const DEFAULT_ATTACH_MS = 5_000;
/** Environment names the runtime's server owns. */
const RESERVED_ENV = ['SESSION_API_KEY', 'RUNTIME_CLIENT_PORT'];
/** StartRequest's fields by the option that sets each, for errors that name the option. */
const OPTION_OF: Record<string, string> = {
  image: 'image',
  session_id: 'sessionId',
  environment: 'env',
  ttl_seconds: 'ttlSeconds',
  idle_timeout_seconds: 'idleTimeoutSeconds',
  cpus: 'cpus',
  memory_mb: 'memoryMb',
  resource_factor: 'resourceFactor',
  runtime_class: 'runtimeClass',
  working_dir: 'workingDir',
};

/**
 * Runtimes of a runtime API service (`runtime-client api`). A runtime is named by its runtime id
 * (`rt-…`) or its session id. Errors are RuntimeError: 'unauthorized' (a wrong or missing API
 * key), 'not_found', 'capacity' (429: data.retryAfterSeconds), 'bad_action' (the service refused
 * the request: data.code, e.g. image_not_found), 'unavailable' (no service, or a 5xx).
 * Call close() when done with it: it keeps its connections to the service alive between calls.
 */
export class RemoteBackend implements RuntimeBackend<RemoteStartOptions, RemoteRuntime, RemoteRuntimeInfo, RemoteAttachOptions> {
  readonly name = 'remote';
  /** The service's base URL. */
  readonly url: string;
  readonly #api: RuntimeApi;

  /** Options (RemoteBackendOptions): `url` (default env RUNTIME_API_URL), `apiKey` (default env RUNTIME_API_KEY), `timeoutMs` 10000, `retries` 2. */
  constructor(options: RemoteBackendOptions = {}) {
    if (options === null || typeof options !== 'object') throw new TypeError('RemoteBackend options must be an object');
    const raw = options.url ?? process.env.RUNTIME_API_URL;
    if (raw === undefined || raw === '') throw new TypeError('the remote backend needs the runtime API\'s url: options.url or env RUNTIME_API_URL');
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      url = new URL('invalid:');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`options.url must be an http: or https: URL, got ${JSON.stringify(raw)}`);
    const apiKey = options.apiKey ?? (process.env.RUNTIME_API_KEY || undefined);
    if (apiKey !== undefined && (typeof apiKey !== 'string' || !apiKey)) throw new TypeError('options.apiKey must be a non-empty string');
    const timeoutMs = options.timeoutMs ?? 10_000;
    if (typeof timeoutMs !== 'number' || !(timeoutMs > 0) || !Number.isFinite(timeoutMs)) throw new TypeError(`options.timeoutMs must be a positive number of ms, got ${JSON.stringify(timeoutMs)}`);
    const retries = options.retries ?? 2;
    if (!Number.isInteger(retries) || retries < 0) throw new TypeError(`options.retries must be a non-negative integer, got ${JSON.stringify(retries)}`);
    this.#api = new RuntimeApi({ url, apiKey, timeoutMs, retries });
    this.url = this.#api.url;
  }

  /**
   * POST /start, then one probe of the runtime's /alive through its url. The service answers once
   * the runtime is ready (pod_status ready); a session that already has a runtime gets it back (a
   * paused one resumed). Options are checked against the service's schema before any call
   * (TypeError naming the option).
   */
  async start(o: RemoteStartOptions): Promise<RemoteRuntime> {
    const startedAt = Date.now();
    const progress = (phase: RemoteStartPhase, message: string) => o.onProgress?.({ phase, message, elapsedMs: Date.now() - startedAt });
    const body = startBody(o);
    const startupTimeoutMs = o.startupTimeoutMs ?? DEFAULT_STARTUP_MS;
    if (typeof startupTimeoutMs !== 'number' || !(startupTimeoutMs > 0)) throw new TypeError(`startupTimeoutMs must be a positive number of ms, got ${JSON.stringify(startupTimeoutMs)}`);
    await new RuntimeClient({ ...o.client, url: 'http://127.0.0.1:1' }).close(); // checks the client tuning, opens nothing

    progress('request', `asking ${this.url} for a runtime of ${body.image} (session ${body.session_id})`);
    const answer = await this.#api.start(body, startupTimeoutMs + 10_000);
    const runtime = new RemoteRuntime(this.#api, infoOf(answer), answer.session_api_key, o.client);
    progress('wait', `${runtime.id} is ${answer.pod_status}; probing ${runtime.url}/alive`);
    try {
      await runtime.waitReady(Math.max(1_000, startupTimeoutMs - (Date.now() - startedAt)));
    } catch (e) {
      await runtime.stop().catch(() => {});
      throw e;
    }
    progress('ready', `${runtime.id} is ready at ${runtime.url}`);
    return runtime;
  }

  /**
   * A handle on a runtime the service has, by runtime id or session id (e.g. from a second
   * process): its url and key come from GET /sessions/{session_id}. A paused runtime is returned
   * paused; a stopped one is RuntimeError 'not_found' (the service removed it).
   */
  async attach(ref: string, o: RemoteAttachOptions = {}): Promise<RemoteRuntime> {
    const r = await this.#find(ref);
    if (r.status === 'stopped') throw new RuntimeError('not_found', `runtime ${r.runtime_id} (session ${r.session_id}) is stopped: the service removed it`, { backend: 'remote', ref });
    const session = await this.#api.session(r.session_id);
    if (session.runtime_id !== r.runtime_id) throw new RuntimeError('not_found', `runtime ${r.runtime_id} is no longer session ${r.session_id}'s runtime`, { backend: 'remote', ref });
    const runtime = new RemoteRuntime(this.#api, infoOf(r), session.session_api_key, o.client);
    if (runtime.state === 'running') await runtime.waitReady(o.startupTimeoutMs ?? DEFAULT_ATTACH_MS);
    return runtime;
  }

  /** GET /list: every runtime the service has (of `status` when given), newest first. */
  async list(status?: RuntimeStatus): Promise<RemoteRuntimeInfo[]> {
    const { runtimes } = await this.#api.list(status);
    return runtimes.map(infoOfEntry).sort((a, b) => (b.createdAt ?? '').localeCompare(a.createdAt ?? ''));
  }

  /** GET /runtime/{id}: image, createdAt and the list-only fields are null (list() has them). */
  async info(ref: RuntimeRef): Promise<RemoteRuntimeInfo> {
    return infoOf(await this.#find(idOf(ref)));
  }

  async pause(ref: RuntimeRef): Promise<void> {
    if (ref instanceof RemoteRuntime) return ref.pause();
    await this.#byRef(idOf(ref), (id) => this.#api.change('pause', id));
  }

  async resume(ref: RuntimeRef): Promise<void> {
    if (ref instanceof RemoteRuntime) return ref.resume();
    await this.#byRef(idOf(ref), (id) => this.#api.change('resume', id));
  }

  /** POST /stop: the service removes the runtime (`remove: false` is a TypeError). Stopping a stopped runtime is not an error. */
  async stop(ref: RuntimeRef, options: StopOptions = {}): Promise<void> {
    if (ref instanceof RemoteRuntime) return ref.stop(options);
    if (options.remove === false) throw new TypeError('the remote backend cannot keep a stopped runtime: the service removes it on stop (remove: false is not supported)');
    await this.#byRef(idOf(ref), (id) => this.#api.change('stop', id));
  }

  /** POST /renew: the runtime now expires `ttlSeconds` from now (bounded by the service's --max-ttl); resolves with the new expiry, ISO 8601 UTC. */
  async renew(ref: RuntimeRef, ttlSeconds: number): Promise<string> {
    if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0) throw new TypeError(`ttlSeconds must be a positive integer, got ${JSON.stringify(ttlSeconds)}`);
    return (await this.#byRef(idOf(ref), (id) => this.#api.renew(id, ttlSeconds))).expires_at;
  }

  /** Frees the connections to the service. Handles made by this backend cannot pause, resume or stop afterwards. */
  close(): void {
    this.#api.close();
  }

  /** The runtime `ref` names, as GET /runtime/{id} reports it. */
  #find(ref: string): Promise<RuntimeResponse> {
    return this.#byRef(ref, (id) => this.#api.runtime(id));
  }

  /**
   * `call` with the runtime id `ref` stands for: `ref` itself when it has a runtime id's shape and
   * the service knows it, else the runtime of the session `ref` (GET /sessions/{ref}).
   * RuntimeError 'not_found' when neither fits.
   */
  async #byRef<T>(ref: string, call: (runtimeId: string) => Promise<T>): Promise<T> {
    const notFound = () => new RuntimeError('not_found', `the runtime API at ${this.url} has no runtime with the id or session id ${ref}`, { backend: 'remote', ref });
    if (RuntimeId.safeParse(ref).success) {
      try {
        return await call(ref);
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }
    if (!ApiSessionId.safeParse(ref).success) throw notFound();
    let runtimeId: string;
    try {
      runtimeId = (await this.#api.session(ref)).runtime_id;
    } catch (e) {
      throw isNotFound(e) ? notFound() : e;
    }
    return call(runtimeId);
  }
}

function isNotFound(e: unknown): boolean {
  return e instanceof RuntimeError && e.code === 'not_found';
}

/** The /start body for `o`, checked with the service's own schema: a TypeError names the option at fault. */
function startBody(o: RemoteStartOptions): StartRequest {
  if (o === null || typeof o !== 'object') throw new TypeError('start() takes an options object with an image');
  if (typeof o.image !== 'string' || !o.image) throw new TypeError(`image must name an image the service's backend has, got ${JSON.stringify(o.image)}`);
  for (const name of RESERVED_ENV) {
    if (o.env && Object.hasOwn(o.env, name)) throw new TypeError(`env.${name} is set by the runtime API and cannot be given`);
  }
  const body = {
    image: o.image,
    session_id: o.sessionId ?? randomBytes(6).toString('hex'),
    environment: o.env,
    ttl_seconds: o.ttlSeconds,
    idle_timeout_seconds: o.idleTimeoutSeconds,
    cpus: o.cpus,
    memory_mb: o.memoryMb,
    resource_factor: o.resourceFactor,
    runtime_class: o.runtimeClass,
    working_dir: o.workingDir,
  };
  const parsed = StartRequest.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const [field, ...rest] = issue.path.map(String);
    const option = [OPTION_OF[field!] ?? field, ...rest].join('.');
    const value = issue.path.reduce<unknown>((at, key) => (at as Record<PropertyKey, unknown>)?.[key as PropertyKey], body);
    const why = issue.message.replace(/^Invalid input: /, '');
    throw new TypeError(`${option}: ${why[0]!.toLowerCase()}${why.slice(1)}, got ${JSON.stringify(value)}`);
  }
  // Absent options stay absent: the service's defaults apply.
  return Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined)) as StartRequest;
}

function idOf(ref: RuntimeRef): string {
  if (typeof ref === 'string' && ref) return ref;
  if (ref && typeof ref === 'object' && ref.backend === 'remote' && typeof ref.id === 'string') return ref.id;
  throw new TypeError(`the remote backend takes a runtime's id, its session id or its remote handle, got ${ref && typeof ref === 'object' ? `a ${ref.backend} handle` : JSON.stringify(ref)}`);
}
