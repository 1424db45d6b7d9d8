// A free host port for a runtime's published port. The kernel picks it; another process could
// take it before the container starts, so start() retries with a new one on a conflict.
import { createServer } from 'node:net';

/** A TCP port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** True for the engine's complaints about a host port someone else holds. */
export const isPortConflict = (message: string): boolean => /port is already allocated|address already in use/i.test(message);
