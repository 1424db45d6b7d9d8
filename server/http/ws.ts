// GET /ws: `execute` and `attach` frames; output chunks in seq order, then the observation.
// A dropped socket never stops a command: its output stays attachable by id. Until a socket has
// shown the key (header or auth frame) its frames may be 4 KiB at most; then --max-body-mb.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { ClientFrame, OUTPUT_GAP, WS_CLOSE, type ServerFrame } from '@runtime-client/protocol';
import { ApiError, validationError } from '../errors.js';
import type { Executor } from '../actions/executor.js';
import type { ActionRecord, Subscriber } from '../actions/record.js';
import type { Logger } from '../logger.js';
import { checkFrameLimitSupport, setFrameLimit } from './frame-limit.js';
import { parseJson } from './json.js';

/** Past this many bytes queued on a socket, output waits until the socket drains. */
const HIGH_WATER_BYTES = 4 * 1024 * 1024;
/** A socket without the key header must send an auth frame this soon, in ms. */
const AUTH_TIMEOUT_MS = 5000;
/** The largest frame a socket may send before it has authenticated: room for the auth frame, in bytes. */
const UNAUTHENTICATED_FRAME_BYTES = 4096;

export interface WsContext {
  executor: Executor;
  log: Logger;
  checkKey: (given: unknown) => boolean;
  maxBodyMb: number;
}

/** What an http.Server's 'upgrade' event is handed. */
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

/** The /ws endpoint: its server (for closing its clients) and the handler of an http.Server's 'upgrade' events. */
export function webSocketUpgrade(ctx: WsContext): { wss: WebSocketServer; upgrade: UpgradeHandler } {
  checkFrameLimitSupport();
  const wss = new WebSocketServer({ noServer: true, maxPayload: ctx.maxBodyMb * 1024 * 1024 });
  const upgrade: UpgradeHandler = (req, socket, head) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/ws') return rejectUpgrade(socket, 404, 'Not Found');
    const header = req.headers['x-session-api-key'];
    if (header !== undefined && !ctx.checkKey(header)) return rejectUpgrade(socket, 401, 'Unauthorized');
    wss.handleUpgrade(req, socket, head, (ws) => new Connection(ws, ctx, header !== undefined || ctx.checkKey(undefined)));
  };
  return { wss, upgrade };
}

/** Refuses an upgrade with an HTTP answer (and, when given, a JSON error body), then closes the socket. */
export function rejectUpgrade(socket: Duplex, status: number, text: string, body?: unknown): void {
  const json = body === undefined ? '' : JSON.stringify(body);
  const type = body === undefined ? '' : 'Content-Type: application/json\r\n';
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\n${type}Content-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`);
}

/** One client socket and the actions it follows. */
class Connection {
  private readonly following = new Map<string, { record: ActionRecord; sub: Subscriber }>();
  private readonly authTimer: NodeJS.Timeout | null;

  constructor(
    private readonly ws: WebSocket,
    private readonly ctx: WsContext,
    private authed: boolean,
  ) {
    ws.on('error', (err) => ctx.log.debug({ err }, 'websocket error'));
    let timer: NodeJS.Timeout | null = null;
    if (!authed) {
      try {
        setFrameLimit(ws, UNAUTHENTICATED_FRAME_BYTES);
        timer = setTimeout(() => {
          this.send({ type: 'error', error: { code: 'unauthorized', message: `no auth frame within ${AUTH_TIMEOUT_MS / 1000} s` } });
          ws.close(WS_CLOSE.unauthorized, 'unauthorized');
        }, AUTH_TIMEOUT_MS);
      } catch (err) {
        // Without the small limit a client with no key could send a frame of any size: refuse it.
        ctx.log.error({ err }, 'websocket refused');
        ws.close(WS_CLOSE.server_error, 'server error');
      }
    }
    this.authTimer = timer;
    ws.on('message', (data, isBinary) => this.onMessage(isBinary ? null : data.toString()));
    ws.on('close', () => {
      if (timer) clearTimeout(timer);
      for (const { record, sub } of this.following.values()) record.unsubscribe(sub);
      this.following.clear();
    });
  }

  private onMessage(text: string | null): void {
    let frame: ClientFrame;
    let parsed: unknown;
    try {
      if (text === null) throw new ApiError('bad_request', 'frames must be JSON text, not binary');
      parsed = parseJson(text, 'frame');
      const result = ClientFrame.safeParse(parsed);
      if (!result.success) throw validationError(result.error, '');
      frame = result.data;
      if (frame.type === 'auth') {
        if (!this.ctx.checkKey(frame.key)) {
          this.send({ type: 'error', error: { code: 'unauthorized', message: 'wrong key' } });
          this.ws.close(WS_CLOSE.unauthorized, 'unauthorized');
          return;
        }
        this.authed = true;
        if (this.authTimer) clearTimeout(this.authTimer);
        setFrameLimit(this.ws, this.ctx.maxBodyMb * 1024 * 1024);
        return;
      }
      if (!this.authed) throw new ApiError('unauthorized', 'send {"type":"auth","key":...} first');
      if (frame.type === 'execute') {
        const { id, action } = this.ctx.executor.parse({ action: frame.action, id: frame.id });
        this.follow(this.ctx.executor.submit(id, action), 0);
      } else {
        const record = this.ctx.executor.get(frame.id);
        if (!record) throw new ApiError('not_found', `no action with id ${JSON.stringify(frame.id)} is known`);
        this.follow(record, frame.from_seq);
      }
    } catch (e) {
      const error = e instanceof ApiError ? e : new ApiError('internal', (e as Error).message);
      if (error.code === 'internal') this.ctx.log.error({ err: e }, 'websocket frame failed');
      const id = typeof parsed === 'object' && parsed !== null ? (parsed as { id?: unknown }).id : undefined;
      this.send({ type: 'error', ...(typeof id === 'string' ? { id } : {}), error: error.toBody().error });
    }
  }

  private follow(record: ActionRecord, fromSeq: number): void {
    const previous = this.following.get(record.id);
    if (previous) previous.record.unsubscribe(previous.sub);
    const id = record.id;
    const ws = this.ws;
    const sub: Subscriber = {
      output: (seq, data) => {
        const frame = JSON.stringify({ type: 'output', id, seq, data });
        if (ws.bufferedAmount + frame.length > HIGH_WATER_BYTES) {
          ws.send(frame, () => record.resume(sub));
          return false;
        }
        ws.send(frame);
        return true;
      },
      gap: (fromSeq, firstSeq) =>
        this.send({
          type: 'error',
          id,
          error: {
            code: OUTPUT_GAP,
            message: `output chunks ${fromSeq} to ${firstSeq - 1} are no longer retained; continuing from ${firstSeq}`,
            details: { from_seq: fromSeq, first_seq: firstSeq },
          },
        }),
      observation: (observation) => {
        this.following.delete(id);
        this.send({ type: 'observation', id, observation });
      },
    };
    this.following.set(id, { record, sub });
    record.subscribe(sub, fromSeq);
  }

  private send(frame: ServerFrame): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(frame));
  }
}
