// The largest frame one WebSocket connection accepts, changed while it is open.
//
// `ws` takes maxPayload per server, but a connection that has not authenticated must get a small
// limit (a 9.8 MB frame from a client without the key was parsed before auth was checked) and the
// full one once it sends its key. ws has no public way to change it per connection, so we set the
// field its frame parser (Receiver) checks as each frame header arrives: a frame over it is
// refused with close code 1009 before its payload is buffered.
import * as wsModule from 'ws';
import { WebSocket } from 'ws';
import { ServerError } from '../errors.js';

/** What ws keeps privately: each connection's Receiver and the limit it checks. */
interface WebSocketInternals {
  _receiver?: { _maxPayload?: unknown } | null;
}

type ReceiverClass = new (options: { maxPayload: number }) => { _maxPayload?: unknown };

const NO_FIELD = 'this ws keeps no _receiver._maxPayload; server/http/frame-limit.ts needs a new way to limit frames before auth';

/** Throws at start if this ws does not keep the fields setFrameLimit changes. */
export function checkFrameLimitSupport(): void {
  const Receiver = (wsModule as unknown as { Receiver?: ReceiverClass }).Receiver; // exported, but not in @types/ws
  const probe = Receiver ? new Receiver({ maxPayload: 4321 }) : null;
  // A server-side WebSocket before its socket is set, as WebSocketServer makes one.
  const ServerSide = WebSocket as unknown as new (address: null, protocols: undefined, options: object) => WebSocketInternals;
  const socket = new ServerSide(null, undefined, {});
  if (probe?._maxPayload !== 4321 || !('_receiver' in socket)) throw new ServerError('dependency', NO_FIELD);
}

/** Frames (whole messages) over `bytes` are refused from now on, with close code 1009. */
export function setFrameLimit(ws: WebSocket, bytes: number): void {
  const receiver = (ws as unknown as WebSocketInternals)._receiver;
  if (!receiver || typeof receiver._maxPayload !== 'number') throw new ServerError('dependency', NO_FIELD);
  receiver._maxPayload = bytes;
}
