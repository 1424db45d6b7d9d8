// A SandboxSpec as an Engine API `POST /containers/create` body: mount mode (the bundle bound
// read-only, tini + runtime-client as the entrypoint) or an injected image (its own entrypoint,
// nothing bound), the key and the shells' environment, the labels, the limits, the runtime class,
// and port 60000 published on the host. Pure data.
import { DEFAULT_PORT, MAX_USER_ID, isUserId } from '@runtime-client/protocol';
import { BUNDLE_MOUNT, mountCreateBody } from '@runtime-client/dockerfiles';
import type { SandboxSpec } from '../driver.js';

/** The port runtime-client listens on inside every sandbox. */
export const CONTAINER_PORT = DEFAULT_PORT;
export const PORT_KEY = `${CONTAINER_PORT}/tcp`;

/** Variables the driver sets itself; `spec.env` may not name them. */
export const RESERVED_ENV = ['SESSION_API_KEY', 'RUNTIME_CLIENT_PORT'] as const;

/** Containers are named `rc-<runtimeId>`: one container per runtime id, and `docker ps` says whose. */
export const CONTAINER_PREFIX = 'rc-';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,120}$/;

export interface CreateRequest {
  /** `name` in the query string. */
  name: string;
  /** The JSON body (it holds the key: it must never go into a URL). */
  body: Record<string, unknown>;
}

/** Where the sandbox's runtime-client comes from: the bundle bound in (mount mode), or an injected image of `spec.image`. */
export type Injection = { bundleDir: string } | { injectedImage: string };

/**
 * The create request for `spec`, its runtime-client from `injection` (a bundle dir: mount mode,
 * as before; an injected image: that image with its own entrypoint and no bind mount), published
 * on `hostIp` at a port the engine picks. Throws a TypeError naming the field when the spec cannot
 * make a container.
 */
export function createRequest(spec: SandboxSpec, injection: string | Injection, hostIp: string): CreateRequest {
  check(spec);
  const how = typeof injection === 'string' ? { bundleDir: injection } : injection;
  if ('injectedImage' in how) {
    if (typeof how.injectedImage !== 'string' || !how.injectedImage.trim()) throw new TypeError(`injectedImage must be an image name, got ${JSON.stringify(how.injectedImage)}`);
    return injectedRequest(spec, how.injectedImage, hostIp);
  }
  const base = mountCreateBody({ baseImage: spec.image, bundleDir: how.bundleDir, port: CONTAINER_PORT, user: spec.username });
  const baseHost = base.HostConfig as Record<string, unknown>;
  const memory = Math.round(spec.memoryMb * 1024 * 1024);
  return {
    name: `${CONTAINER_PREFIX}${spec.runtimeId}`,
    body: {
      Image: spec.image,
      Entrypoint: base.Entrypoint,
      Cmd: [
        ...(base.Cmd as string[]),
        ...(spec.userId === undefined ? [] : ['--user-id', String(spec.userId)]),
        ...(spec.workingDir === undefined ? [] : ['--working-dir', spec.workingDir]),
        ...(spec.awaitConfig ? ['--await-config'] : []),
      ],
      // Shells as another user need a root server (it switches to them); without one the server
      // runs as the image's USER, as a cold start without a user does.
      ...(spec.username === undefined ? {} : { User: '0' }),
      // The image's ENV stays (the engine merges it under ours): the shells' env, the port, the key.
      Env: [...Object.entries(spec.env).map(([name, value]) => `${name}=${value}`), `RUNTIME_CLIENT_PORT=${CONTAINER_PORT}`, `SESSION_API_KEY=${spec.apiKey}`],
      // The engine makes the directory when the image lacks it (OpenHands asks for /workspace).
      ...(spec.workingDir === undefined ? {} : { WorkingDir: spec.workingDir }),
      Labels: { ...spec.labels },
      ExposedPorts: { [PORT_KEY]: {} },
      // No Healthcheck: the lifecycle core probes /alive itself, and an exec every few seconds in
      // each of 50 sandboxes (a node process each) would cost more than the probe it replaces.
      HostConfig: {
        ...baseHost,
        // An empty HostPort: the engine picks a free one (read back by inspect after the start).
        PortBindings: { [PORT_KEY]: [{ HostIp: hostIp, HostPort: '' }] },
        NanoCpus: Math.round(spec.cpus * 1e9),
        Memory: memory,
        // The same as Memory: no swap on top of the limit (ignored where swap is not accounted).
        MemorySwap: memory,
        PidsLimit: spec.pidsLimit,
        // A runtime-client that dies (OOM-killed, killed from inside) is started again with its
        // filesystem kept, at most 3 times over the container's life (the 4th death is final); the
        // service's own stop (rm -f), an outside `docker kill` and an exit 0 are never restarted.
        RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 },
        ...(spec.runtimeClass === undefined ? {} : { Runtime: spec.runtimeClass }),
      },
    },
  };
}

/**
 * An injected image's sandbox: the mount-mode body with the image's own entrypoint (tini, then
 * runtime-client, as the suffix stage sets it) instead of the bound bundle's, the server's flags as
 * its Cmd, and its HEALTHCHECK turned off (the lifecycle probes /alive itself, as in mount mode).
 */
function injectedRequest(spec: SandboxSpec, image: string, hostIp: string): CreateRequest {
  // Built from the mount body, so that every other field (env, labels, limits, user, restart
  // policy, ports) is the same by construction; the bundle path only names the dropped bind.
  const { name, body } = createRequest(spec, { bundleDir: BUNDLE_MOUNT }, hostIp);
  const { Entrypoint: _entrypoint, Cmd, HostConfig, ...rest } = body as { Entrypoint: unknown; Cmd: string[]; HostConfig: Record<string, unknown> };
  const { Binds: _binds, ...host } = HostConfig;
  // The mount entrypoint's tail ('--', the server's path) is in the image's ENTRYPOINT already.
  const serverFlags = Cmd.slice(Cmd.indexOf(`${BUNDLE_MOUNT}/bin/runtime-client`) + 1);
  return { name, body: { ...rest, Image: image, Cmd: serverFlags, Healthcheck: { Test: ['NONE'] }, HostConfig: host } };
}

/** Throws a TypeError naming the field when `spec` cannot make a container (before anything is built for it). */
export function check(spec: SandboxSpec): void {
  const fail = (field: string, what: string, got: unknown): never => {
    throw new TypeError(`spec.${field} must be ${what}, got ${JSON.stringify(got)}`);
  };
  if (typeof spec.runtimeId !== 'string' || !NAME.test(spec.runtimeId)) fail('runtimeId', '1-121 characters of A-Z a-z 0-9 _ . - starting with a letter or digit', spec.runtimeId);
  if (typeof spec.image !== 'string' || !spec.image.trim()) fail('image', 'an image name', spec.image);
  if (typeof spec.apiKey !== 'string' || !spec.apiKey) fail('apiKey', 'a non-empty string', '<hidden>');
  if (typeof spec.cpus !== 'number' || !Number.isFinite(spec.cpus) || spec.cpus < 0.01) fail('cpus', 'a number of CPUs, at least 0.01', spec.cpus);
  // The engine refuses less than 6 MiB.
  if (typeof spec.memoryMb !== 'number' || !Number.isFinite(spec.memoryMb) || spec.memoryMb < 6) fail('memoryMb', 'a number of MiB, at least 6', spec.memoryMb);
  if (!Number.isInteger(spec.pidsLimit) || spec.pidsLimit < 1) fail('pidsLimit', 'a positive integer', spec.pidsLimit);
  if (spec.workingDir !== undefined && (typeof spec.workingDir !== 'string' || !spec.workingDir.startsWith('/'))) fail('workingDir', 'an absolute path', spec.workingDir);
  if (spec.username !== undefined && (typeof spec.username !== 'string' || !spec.username)) fail('username', 'a user name or uid', spec.username);
  if (spec.userId !== undefined && !isUserId(spec.userId)) fail('userId', `an integer from 0 to ${MAX_USER_ID}`, spec.userId);
  if (spec.userId !== undefined && spec.username === undefined) fail('userId', 'given with username', spec.userId);
  if (spec.runtimeClass !== undefined && (typeof spec.runtimeClass !== 'string' || !spec.runtimeClass)) fail('runtimeClass', 'a runtime name', spec.runtimeClass);
  for (const [name, value] of Object.entries(spec.env ?? fail('env', 'an object', spec.env))) {
    if ((RESERVED_ENV as readonly string[]).includes(name)) throw new TypeError(`spec.env.${name} is set by the driver and cannot be given`);
    if (!/^[^=\0]+$/.test(name) || typeof value !== 'string' || value.includes('\0')) throw new TypeError(`spec.env.${name} must be a string without NUL under a name without "=" or NUL`);
  }
  for (const [name, value] of Object.entries(spec.labels ?? fail('labels', 'an object', spec.labels))) {
    if (!name || typeof value !== 'string') throw new TypeError(`spec.labels.${name} must be a string under a non-empty name`);
  }
}
