// A runtime the runtime API started: its RuntimeClient points at the url the service handed out
// (its proxy, `<service>/r/<runtime id>`) with the runtime's own session key. A RemoteRuntime is
// the remote backend's RuntimeHandle.
import type { ClientTuning, HandleState, RuntimeHandle, StopOptions } from '../backends/backend.js';
import { GuardedRuntimeClient } from '../backends/guarded-client.js';
import { RuntimeError } from '../errors.js';
import type { RuntimeApi } from './api.js';
import type { RemoteRuntimeInfo } from './types.js';

/** The codes a call through a paused or stopped runtime's url can end with (503 at once, 404, a lost connection). */
const EXPLAINABLE = new Set(['timeout', 'disconnected', 'unavailable', 'bad_action']);

export class RemoteRuntime implements RuntimeHandle<RemoteRuntimeInfo> {
  readonly backend = 'remote';
  /** The service's runtime id (`rt-` and 24 hex digits). */
  readonly id: string;
  readonly sessionId: string;
  /** The runtime's url as the service gave it: by default its proxy, `<service>/r/<runtime id>`. */
  readonly url: string;
  /** The runtime's session API key (random per runtime), sent as X-Session-API-Key by `client`. */
  readonly apiKey: string;
  /** Connected to `url`; while the runtime is paused its calls fail at once with RuntimeError 'paused'. */
  readonly client: GuardedRuntimeClient;
  readonly #api: RuntimeApi;
  readonly #info: RemoteRuntimeInfo;
  #state: HandleState;

  /** Made by RemoteBackend from the service's answer; `info.url` must be set. */
  constructor(api: RuntimeApi, info: RemoteRuntimeInfo, apiKey: string, tuning: ClientTuning | undefined) {
    if (!info.url) throw new RuntimeError('not_found', `runtime ${info.id} is stopped`, { backend: 'remote', ref: info.id });
    this.#api = api;
    this.#info = info;
    this.id = info.id;
    this.sessionId = info.sessionId;
    this.url = info.url;
    this.apiKey = apiKey;
    this.#state = info.state === 'paused' ? 'paused' : 'running';
    this.client = new GuardedRuntimeClient({ ...tuning, url: info.url, apiKey }, {
      blocked: () => this.#blocked(),
      explain: (error) => this.#explain(error),
    });
  }

  /** What this object knows: `paused` after pause() (or once a call found the runtime paused), `closed` after stop(). */
  get state(): HandleState {
    return this.#state;
  }

  /** What the service said when this handle was made, with `state` as this handle last saw it. */
  get info(): RemoteRuntimeInfo {
    if (this.#state !== 'running') return { ...this.#info, state: this.#state === 'closed' ? 'stopped' : 'paused' };
    return { ...this.#info, state: this.#info.state === 'paused' ? 'running' : this.#info.state };
  }

  /**
   * POST /pause: the service freezes the runtime (memory and processes kept). Until resume(), the
   * client's calls fail at once with RuntimeError 'paused'.
   */
  async pause(): Promise<void> {
    this.#assertOpen();
    if (this.#state === 'paused') return;
    this.#state = 'paused'; // first, so that calls made meanwhile fail fast
    try {
      await this.#api.change('pause', this.id);
    } catch (e) {
      this.#state = 'running';
      throw e;
    }
  }

  /** POST /resume: the shells carry on where they were. */
  async resume(): Promise<void> {
    this.#assertOpen();
    await this.#api.change('resume', this.id);
    this.#state = 'running';
  }

  /**
   * Closes the client and asks the service to stop the runtime, which removes it (there is no
   * keeping a stopped remote runtime: `remove: false` is a TypeError). Twice, or a runtime the
   * service no longer knows, is not an error.
   */
  async stop(options: StopOptions = {}): Promise<void> {
    if (options.remove === false) throw new TypeError('the remote backend cannot keep a stopped runtime: the service removes it on stop (remove: false is not supported)');
    const wasClosed = this.#state === 'closed';
    this.#state = 'closed';
    if (!wasClosed) await this.client.close();
    try {
      await this.#api.change('stop', this.id);
    } catch (e) {
      if (!(e instanceof RuntimeError && e.code === 'not_found')) throw e;
    }
  }

  /** Polls the url's /alive until it answers (the service answers /start once it did, so this is one probe). */
  async waitReady(timeoutMs: number): Promise<void> {
    await this.client.waitUntilAlive({ timeoutMs });
  }

  /** Why a call may not be sent now, or null. */
  #blocked(): RuntimeError | null {
    if (this.#state === 'paused') return new RuntimeError('paused', `runtime ${this.id} (session ${this.sessionId}) is paused: resume() it first`, { runtimeId: this.id, sessionId: this.sessionId });
    if (this.#state === 'closed') return new RuntimeError('unavailable', `runtime ${this.id} (session ${this.sessionId}) is stopped`, { runtimeId: this.id, sessionId: this.sessionId });
    return null;
  }

  /** A call that failed the way a paused (503) or stopped (404) runtime's url fails: ask the service what became of it. */
  async #explain(error: unknown): Promise<unknown> {
    if (!(error instanceof RuntimeError) || !EXPLAINABLE.has(error.code)) return error;
    const about = { runtimeId: this.id, sessionId: this.sessionId, cause: error };
    // The service's proxy said so itself (503 `paused`): no need to ask.
    if ((error.data as { body?: { error?: { code?: unknown } } } | undefined)?.body?.error?.code === 'paused') return this.#pausedError(about);
    let status: string;
    try {
      status = (await this.#api.runtime(this.id)).status;
    } catch (e) {
      if (!(e instanceof RuntimeError && e.code === 'not_found')) return error;
      status = 'stopped';
    }
    if (status === 'paused') return this.#pausedError(about);
    if (status === 'stopped') {
      if (this.#state !== 'closed') {
        this.#state = 'closed';
        void this.client.close();
      }
      return new RuntimeError('unavailable', `runtime ${this.id} (session ${this.sessionId}) was stopped by the service (expired, reaped, or stopped by another client)`, about);
    }
    return error;
  }

  /** The runtime was paused by someone else (the service's idle clock, another client): this handle now knows it. */
  #pausedError(about: Record<string, unknown>): RuntimeError {
    if (this.#state === 'running') this.#state = 'paused';
    return new RuntimeError('paused', `runtime ${this.id} (session ${this.sessionId}) was paused by the service (idle, or paused by another client): resume() it first`, about);
  }

  #assertOpen(): void {
    if (this.#state === 'closed') throw new RuntimeError('unavailable', `runtime ${this.id} (session ${this.sessionId}) is stopped`, { runtimeId: this.id, sessionId: this.sessionId });
  }
}
