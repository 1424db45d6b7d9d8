// Backends by name, so that a name from a flag or a config file picks one: `docker` is there from
// the start; later issues (and users) register more.
import { RuntimeError } from '../errors.js';
import { DockerBackend } from '../docker/backend.js';
import { RemoteBackend } from '../remote/backend.js';
import type { RuntimeBackend } from './backend.js';

/** Makes the backend, once: getBackend() calls it on first use and keeps what it returns. */
export type BackendFactory = () => RuntimeBackend;

/**
 * The type getBackend(name) gives for a known name. A module registering a backend can add its
 * own by declaration merging: `declare module '...' { interface KnownBackends { ssh: SshBackend } }`.
 */
export interface KnownBackends {
  docker: DockerBackend;
  remote: RemoteBackend;
}

const NAME = /^[a-z][a-z0-9-]{0,31}$/;
const factories = new Map<string, BackendFactory>();
const made = new Map<string, RuntimeBackend>();

/**
 * Registers a backend under `name` (1-32 of a-z 0-9 -, starting with a letter). A name already
 * registered, or a factory that is not a function, is a TypeError.
 */
export function registerBackend(name: string, factory: BackendFactory): void {
  if (typeof name !== 'string' || !NAME.test(name)) throw new TypeError(`a backend name must be 1-32 characters of a-z 0-9 - starting with a letter, got ${JSON.stringify(name)}`);
  if (typeof factory !== 'function') throw new TypeError(`the factory of backend ${name} must be a function`);
  if (factories.has(name)) throw new TypeError(`a backend named ${name} is already registered`);
  factories.set(name, factory);
}

/**
 * The backend registered under `name`, made on first use and the same object afterwards.
 * RuntimeError 'unknown_backend' (data: `{ name, known }`) when none is.
 */
export function getBackend<Name extends keyof KnownBackends>(name: Name): KnownBackends[Name];
export function getBackend(name: string): RuntimeBackend;
export function getBackend(name: string): RuntimeBackend {
  const existing = made.get(name);
  if (existing) return existing;
  const factory = factories.get(name);
  if (!factory) {
    const known = listBackends();
    throw new RuntimeError('unknown_backend', `no runtime backend named ${JSON.stringify(name)} (known: ${known.join(', ')})`, { name, known });
  }
  const backend = factory();
  if (backend?.name !== name) throw new TypeError(`the factory of backend ${name} made a backend named ${JSON.stringify(backend?.name)}`);
  made.set(name, backend);
  return backend;
}

/** The registered names, in the order they were registered (`docker` first). */
export function listBackends(): string[] {
  return [...factories.keys()];
}

registerBackend('docker', () => new DockerBackend());
// The runtime API at env RUNTIME_API_URL, with env RUNTIME_API_KEY (a TypeError on first use without the url).
registerBackend('remote', () => new RemoteBackend());
