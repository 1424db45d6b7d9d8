// A fixture server (node:http on port 0) that fails on purpose, by script: drops connections,
// answers 503 or 401, hangs forever; otherwise it answers like a runtime-client. Its WebSocket
// side is driven by the test. Records every request, with the action id it carried.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

/** What the server does with one request. */
export type Reply = 'drop' | 'hang' | { status: number; body?: unknown };

export interface Seen {
  method: string;
  path: string;
  /** The action id in the body (POST /execute_action), if any. */
  id?: string;
  body?: any;
  headers: IncomingMessage['headers'];
  /** performance.now() when the request arrived, in ms. */
  at: number;
}

export interface FlakyServer {
  url: string;
  port: number;
  requests: Seen[];
  /** Replies for the next requests to `path`, in order; afterwards the normal answer. */
  script(path: string, replies: Reply[]): void;
  /** Every request to `path` gets this reply from now on. */
  always(path: string, reply: Reply): void;
  /** Called with each WebSocket the server accepts on /ws. */
  onSocket(handler: (ws: WebSocket, req: IncomingMessage) => void): void;
  close(): Promise<void>;
}

/** The observation the fixture answers for a run action. */
export const fixtureObservation = (id: string) => ({
  observation: 'run',
  content: `ran ${id}\n`,
  extras: {
    command: 'fixture',
    hidden: false,
    metadata: { exit_code: 0, pid: 1, username: 'u', hostname: 'h', working_dir: '/w', py_interpreter_path: null, prefix: '', suffix: '' },
  },
  success: true,
});

export async function startFlakyServer(): Promise<FlakyServer> {
  const scripts = new Map<string, Reply[]>();
  const fixed = new Map<string, Reply>();
  const sockets = new Set<Socket>();
  const requests: Seen[] = [];
  let wsHandler: (ws: WebSocket, req: IncomingMessage) => void = () => {};

  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (p: Buffer) => parts.push(p));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0]!;
      let body: any;
      try {
        body = parts.length ? JSON.parse(Buffer.concat(parts).toString()) : undefined;
      } catch {
        body = undefined;
      }
      requests.push({ method: req.method ?? '', path, id: body?.id, body, headers: req.headers, at: performance.now() });
      const reply = scripts.get(path)?.shift() ?? fixed.get(path) ?? normal(path, body);
      answer(req, res, reply);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const wss = new WebSocketServer({ server, path: '/ws' });
  wss.on('connection', (ws, req) => wsHandler(ws, req));

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    script: (path, replies) => scripts.set(path, [...replies]),
    always: (path, reply) => fixed.set(path, reply),
    onSocket: (handler) => (wsHandler = handler),
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => wss.close(() => server.close(() => resolve())));
    },
  };
}

function normal(path: string, body: any): Reply {
  if (path === '/execute_action') return { status: 200, body: fixtureObservation(body?.id) };
  if (path === '/alive') return { status: 200, body: { status: 'ok', version: '0.0.0-fixture' } };
  return { status: 404, body: { error: { code: 'not_found', message: `no route ${path}` } } };
}

function answer(req: IncomingMessage, res: ServerResponse, reply: Reply): void {
  if (reply === 'drop') return void req.socket.destroy();
  if (reply === 'hang') return;
  res.writeHead(reply.status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(reply.body ?? {}));
}
