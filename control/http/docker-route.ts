// The proxy's shorter route to a Docker runtime: the container's address on its bridge network,
// when the service runs on the engine's host. The published port (the runtime's direct URL) goes
// through the engine's port forwarder (docker-proxy), one more process hop than the bridge address
// (~0.1 ms per request here); with Docker Desktop or a remote engine the bridge is not reachable,
// the probe fails, and the direct URL stays.
import { withDeadline } from '../deadline.js';
import type { DockerDriver } from '../docker/index.js';
import { CONTAINER_PORT } from '../docker/spec.js';
import type { RuntimeRecord } from '../lifecycle/api.js';

/** How long the bridge address has to answer /alive before it is given up, in ms. */
const PROBE_TIMEOUT_MS = 500;

export function dockerBridgeRoute(driver: DockerDriver): (record: RuntimeRecord) => Promise<string | null> {
  return async (record) => {
    if (!record.sandboxId) return null;
    const info = await driver.docker.getContainer(record.sandboxId).inspect();
    const ip = Object.values(info.NetworkSettings?.Networks ?? {})
      .map((n) => n?.IPAddress)
      .find((a): a is string => !!a);
    if (!ip) return null;
    const url = `http://${ip.includes(':') ? `[${ip}]` : ip}:${CONTAINER_PORT}`;
    const probe = (async () => {
      const res = await fetch(`${url}/alive`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
      await res.arrayBuffer().catch(() => undefined);
      return url;
    })();
    // The plain timer a little after the signal's: the probe ends even when the abort is not honoured.
    return withDeadline(probe, PROBE_TIMEOUT_MS + 100, () => new Error('no answer')).catch(() => null);
  };
}
