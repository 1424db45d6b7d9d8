// Mount mode: no build at all. The bundle is bind-mounted read-only at /opt/runtime-client and
// made the entrypoint, as an init container copying it into a shared volume would in Kubernetes.
import { DEFAULT_PORT } from '@runtime-client/protocol';
import { BUNDLE_MOUNT } from './bundle.js';

export interface MountOptions {
  baseImage: string;
  bundleDir: string;
  /** Port the server listens on. Default 60000. */
  port?: number;
  /** Run the shells as this user. */
  user?: string;
  /** Seconds between health probes. Default 5. */
  healthIntervalSeconds?: number;
}

const entrypoint = `${BUNDLE_MOUNT}/bin/tini`;
const serverArgs = (o: MountOptions) => ['--', `${BUNDLE_MOUNT}/bin/runtime-client`, ...(o.user ? ['--username', o.user] : [])];

/**
 * `docker run` arguments (after `docker run`, before nothing): the image and the server's args
 * come last. The CLI's --health-cmd has only the shell form, so it needs /bin/sh in the image;
 * the Engine API body from `mountCreateBody` has the exec form and works on any image.
 */
export function mountRunArgs(o: MountOptions): string[] {
  const interval = o.healthIntervalSeconds ?? 5;
  return [
    '--volume', `${o.bundleDir}:${BUNDLE_MOUNT}:ro`,
    '--env', `RUNTIME_CLIENT_PORT=${o.port ?? DEFAULT_PORT}`,
    '--health-cmd', `${BUNDLE_MOUNT}/bin/runtime-client probe`,
    '--health-interval', `${interval}s`,
    '--health-timeout', '3s',
    '--health-start-period', '60s',
    '--health-retries', '3',
    '--entrypoint', entrypoint,
    o.baseImage,
    ...serverArgs(o),
  ];
}

/** The Engine API `POST /containers/create` body for the same container (exec-form health check). */
export function mountCreateBody(o: MountOptions): Record<string, unknown> {
  const ns = (seconds: number) => seconds * 1e9;
  return {
    Image: o.baseImage,
    Entrypoint: [entrypoint],
    Cmd: serverArgs(o),
    Env: [`RUNTIME_CLIENT_PORT=${o.port ?? DEFAULT_PORT}`],
    Healthcheck: {
      Test: ['CMD', `${BUNDLE_MOUNT}/bin/runtime-client`, 'probe'],
      Interval: ns(o.healthIntervalSeconds ?? 5),
      Timeout: ns(3),
      StartPeriod: ns(60),
      Retries: 3,
    },
    HostConfig: { Binds: [`${o.bundleDir}:${BUNDLE_MOUNT}:ro`], Init: false },
  };
}
