// A proxy of the test's own in front of a real server (a TCP port or a unix socket such as the
// Docker engine's), to see what goes over the wire and to cut live connections the way a flaky
// network or a restart does: the client sees a reset, the server a closed socket.
import { createConnection, createServer, type NetConnectOpts, type Server, type Socket } from 'node:net';

export interface SocketProxy {
  /** `http://127.0.0.1:PORT` when it listens on a TCP port; '' on a unix socket. */
  url: string;
  /** The unix socket it listens on; '' on a TCP port. */
  socketPath: string;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Connections open now. */
  readonly open: number;
  /** Every byte clients sent, as latin1 text ('' unless started with `record`). */
  readonly sent: string;
  /** Destroys every open connection, both sides. */
  dropAll(): void;
  close(): Promise<void>;
}

/**
 * Listens on `listen` (a unix socket path, or 0 for a free port on 127.0.0.1) and pipes each
 * connection to `target`; with `record`, keeps what clients send (for `sent`).
 */
export async function startSocketProxy(listen: string | 0, target: NetConnectOpts, { record = false } = {}): Promise<SocketProxy> {
  const pairs = new Set<[Socket, Socket]>();
  let connections = 0;
  let sent = '';
  const server: Server = createServer((client) => {
    connections++;
    const upstream = createConnection(target);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    if (record) client.on('data', (chunk: Buffer) => (sent += chunk.toString('latin1')));
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => (listen === 0 ? server.listen(0, '127.0.0.1', resolve) : server.listen(listen, resolve)));
  return {
    url: listen === 0 ? `http://127.0.0.1:${(server.address() as { port: number }).port}` : '',
    socketPath: listen === 0 ? '' : listen,
    get connections() {
      return connections;
    },
    get open() {
      return pairs.size;
    },
    get sent() {
      return sent;
    },
    dropAll() {
      for (const [a, b] of [...pairs]) {
        a.destroy();
        b.destroy();
      }
      pairs.clear();
    },
    async close() {
      this.dropAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
