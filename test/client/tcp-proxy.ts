// A TCP proxy on port 0 in front of a real server, to cut live connections (HTTP or WebSocket)
// the way a flaky network does: the client sees a reset, the server a closed socket.
import { startSocketProxy, type SocketProxy } from '../helpers/socket-proxy.js';

export type TcpProxy = SocketProxy;

export function startProxy(targetPort: number): Promise<TcpProxy> {
  return startSocketProxy(0, { host: '127.0.0.1', port: targetPort });
}
