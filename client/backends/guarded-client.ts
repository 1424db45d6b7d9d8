// The RuntimeClient a backend's handle holds. A paused runtime's port accepts connections and never
// answers (the kernel answers for frozen processes), so a plain client would wait for its timeout;
// this one asks the handle first and fails at once with RuntimeError 'paused'.
import { RuntimeError } from '../errors.js';
import { RuntimeClient } from '../runtime-client.js';
import type { RuntimeClientOptions } from '../types.js';

export interface ClientGuard {
  /** The error a call must fail with now (paused, closed), or null to send it. */
  blocked(): RuntimeError | null;
  /** A better error for a failed call (e.g. the container was paused by someone else), or the same. */
  explain(error: unknown): Promise<unknown>;
}

/**
 * A RuntimeClient whose calls check the runtime's state first. While paused: alive() resolves
 * false, every other call rejects with RuntimeError 'paused' (stream() throws it) without touching
 * the network. A call that times out or loses its connection because the runtime was paused from
 * outside (e.g. `docker pause`) is reported as 'paused' too, when the guard's explain() finds so.
 */
export class GuardedRuntimeClient extends RuntimeClient {
  readonly #guard: ClientGuard;

  constructor(options: RuntimeClientOptions, guard: ClientGuard) {
    super(options);
    this.#guard = guard;
  }

  override alive(...args: Parameters<RuntimeClient['alive']>): ReturnType<RuntimeClient['alive']> {
    if (this.#guard.blocked()) return Promise.resolve(false);
    return super.alive(...args);
  }

  override waitUntilAlive(...args: Parameters<RuntimeClient['waitUntilAlive']>): ReturnType<RuntimeClient['waitUntilAlive']> {
    return this.#guarded(() => super.waitUntilAlive(...args));
  }

  override serverInfo(...args: Parameters<RuntimeClient['serverInfo']>): ReturnType<RuntimeClient['serverInfo']> {
    return this.#guarded(() => super.serverInfo(...args));
  }

  override execute(...args: Parameters<RuntimeClient['execute']>): ReturnType<RuntimeClient['execute']> {
    return this.#guarded(() => super.execute(...args));
  }

  override run(...args: Parameters<RuntimeClient['run']>): ReturnType<RuntimeClient['run']> {
    return this.#guarded(() => super.run(...args));
  }

  override upload(...args: Parameters<RuntimeClient['upload']>): ReturnType<RuntimeClient['upload']> {
    return this.#guarded(() => super.upload(...args));
  }

  override download(...args: Parameters<RuntimeClient['download']>): ReturnType<RuntimeClient['download']> {
    return this.#guarded(() => super.download(...args));
  }

  override listFiles(...args: Parameters<RuntimeClient['listFiles']>): ReturnType<RuntimeClient['listFiles']> {
    return this.#guarded(() => super.listFiles(...args));
  }

  override sessions(...args: Parameters<RuntimeClient['sessions']>): ReturnType<RuntimeClient['sessions']> {
    return this.#guarded(() => super.sessions(...args));
  }

  override endSession(...args: Parameters<RuntimeClient['endSession']>): ReturnType<RuntimeClient['endSession']> {
    return this.#guarded(() => super.endSession(...args));
  }

  override resetSession(...args: Parameters<RuntimeClient['resetSession']>): ReturnType<RuntimeClient['resetSession']> {
    return this.#guarded(() => super.resetSession(...args));
  }

  override stream(...args: Parameters<RuntimeClient['stream']>): ReturnType<RuntimeClient['stream']> {
    const blocked = this.#guard.blocked();
    if (blocked) throw blocked;
    return super.stream(...args);
  }

  async #guarded<T>(call: () => Promise<T>): Promise<T> {
    const blocked = this.#guard.blocked();
    if (blocked) throw blocked;
    try {
      return await call();
    } catch (e) {
      throw await this.#guard.explain(e);
    }
  }
}
