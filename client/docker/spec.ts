// What a runtime container is made of — name, labels, environment, published port, limits,
// mounts — as an Engine API `POST /containers/create` body. Pure data: checked without an engine.
import { isAbsolute, resolve } from 'node:path';
import { DEFAULT_PORT } from '@runtime-client/protocol';
import { LABEL_BASE } from '@runtime-client/dockerfiles';

/** Label carrying the session id; `list()` and `attach()` find runtimes by it. */
export const LABEL_SESSION = 'dev.runtime-client.session';
/** Label recording how the bundle got into the container: `build` or `mount`. */
export const LABEL_MODE = 'dev.runtime-client.mode';
export { LABEL_BASE };

/** The port the server listens on inside every runtime container. */
export const CONTAINER_PORT = DEFAULT_PORT;
/** Containers are named `runtime-client-<sessionId>`. */
export const CONTAINER_PREFIX = 'runtime-client-';

/** Environment variables DockerRuntime sets itself; `env` may not name them. */
export const RESERVED_ENV = ['SESSION_API_KEY', 'RUNTIME_CLIENT_PORT'] as const;

/** A bind mount of a host path. */
export interface BindMount {
  /** Host path; a relative one is resolved against the current directory. It must exist. */
  source: string;
  /** Absolute path inside the container. */
  target: string;
  /** Mount read-only. Default false. */
  readOnly?: boolean;
}

export type InjectionMode = 'build' | 'mount';

export interface ContainerSpec {
  sessionId: string;
  /** The image the container runs: the injected image, or the base image itself in mount mode. */
  image: string;
  /** The image the user asked for, recorded in a label. */
  baseImage: string;
  mode: InjectionMode;
  apiKey: string;
  /** Host port bound on 127.0.0.1 to the server's port. */
  hostPort: number;
  env?: Record<string, string>;
  mounts?: BindMount[];
  /** CPUs, fractional allowed (HostConfig.NanoCpus). */
  cpus?: number;
  /** Memory limit in MiB (HostConfig.Memory). */
  memoryMb?: number;
  /** Extra labels; the `dev.runtime-client.*` ones are reserved. */
  labels?: Record<string, string>;
}

const SESSION_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** Throws a TypeError naming the option when a session id cannot name a container. */
export function checkSessionId(sessionId: string): void {
  if (typeof sessionId !== 'string' || !SESSION_ID.test(sessionId)) {
    throw new TypeError(`sessionId must be 1-63 characters of A-Z a-z 0-9 _ . - starting with a letter or digit, got ${JSON.stringify(sessionId)}`);
  }
}

export const containerName = (sessionId: string): string => `${CONTAINER_PREFIX}${sessionId}`;

/**
 * The create body. `base` is what the container starts from: `{ Image }` for a built image, or
 * `mountCreateBody()`'s body (entrypoint, exec-form health check, the bundle's bind) in mount mode.
 */
export function createBody(spec: ContainerSpec, base: Record<string, unknown> = { Image: spec.image }): Record<string, unknown> {
  checkSessionId(spec.sessionId);
  const env = Object.entries(spec.env ?? {});
  for (const [name, value] of env) {
    if ((RESERVED_ENV as readonly string[]).includes(name)) throw new TypeError(`env.${name} is set by DockerRuntime and cannot be given`);
    if (!/^[^=\0]+$/.test(name) || typeof value !== 'string') throw new TypeError(`env.${name} must be a string under a name without "="`);
  }
  for (const name of Object.keys(spec.labels ?? {})) {
    if (name.startsWith('dev.runtime-client.')) throw new TypeError(`labels.${name} is reserved for DockerRuntime`);
  }
  const baseHost = (base.HostConfig ?? {}) as Record<string, unknown>;
  const port = `${CONTAINER_PORT}/tcp`;
  return {
    ...base,
    Image: spec.image,
    // The image's ENV first (the Engine merges it), then ours: the caller's, the port, the key.
    Env: [
      ...((base.Env as string[] | undefined) ?? []).filter((e) => !RESERVED_ENV.some((name) => e.startsWith(`${name}=`))),
      ...env.map(([name, value]) => `${name}=${value}`),
      `RUNTIME_CLIENT_PORT=${CONTAINER_PORT}`,
      `SESSION_API_KEY=${spec.apiKey}`,
    ],
    Labels: {
      ...spec.labels,
      [LABEL_SESSION]: spec.sessionId,
      [LABEL_BASE]: spec.baseImage,
      [LABEL_MODE]: spec.mode,
    },
    ExposedPorts: { [port]: {} },
    HostConfig: {
      ...baseHost,
      // 127.0.0.1 only: the key is the only other guard, and it is never sent over a network.
      PortBindings: { [port]: [{ HostIp: '127.0.0.1', HostPort: String(spec.hostPort) }] },
      ...(spec.cpus === undefined ? {} : { NanoCpus: nanoCpus(spec.cpus) }),
      ...(spec.memoryMb === undefined ? {} : { Memory: memoryBytes(spec.memoryMb) }),
      Mounts: [...((baseHost.Mounts as unknown[] | undefined) ?? []), ...(spec.mounts ?? []).map(bindMount)],
    },
  };
}

function nanoCpus(cpus: number): number {
  if (typeof cpus !== 'number' || !Number.isFinite(cpus) || cpus <= 0) throw new TypeError(`cpus must be a positive number, got ${JSON.stringify(cpus)}`);
  return Math.round(cpus * 1e9);
}

function memoryBytes(memoryMb: number): number {
  // The engine refuses less than 6 MiB.
  if (typeof memoryMb !== 'number' || !Number.isFinite(memoryMb) || memoryMb < 6) {
    throw new TypeError(`memoryMb must be a number of MiB, at least 6, got ${JSON.stringify(memoryMb)}`);
  }
  return Math.round(memoryMb * 1024 * 1024);
}

function bindMount(m: BindMount): Record<string, unknown> {
  if (!m || typeof m.source !== 'string' || !m.source) throw new TypeError('mounts[].source must be a host path');
  if (typeof m.target !== 'string' || !isAbsolute(m.target)) throw new TypeError(`mounts[].target must be an absolute path, got ${JSON.stringify(m.target)}`);
  return { Type: 'bind', Source: resolve(m.source), Target: m.target, ReadOnly: m.readOnly === true };
}
