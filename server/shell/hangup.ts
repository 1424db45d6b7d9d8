// The last output of a shell that exits right after printing it.
//
// Bytes written to a pty slave reach the master's read buffer through a kernel work queue. When
// the shell prints and exits at once, libuv can see the hang-up while some of those bytes are
// still queued: after a read that did not fill its buffer it reports end-of-file at once, without
// reading again, and node-pty closes the descriptor (node-pty issue #72). `echo hi; exit 3` then
// lost "hi" about one time in a hundred, and the last lines of a longer output one time in five.
//
// So at that end-of-file, before Node closes the descriptor, we read the rest ourselves: the
// kernel hands over every queued byte first and only then says EIO.
import { readSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import type { IPty } from 'node-pty';
import { ServerError } from '../errors.js';

/** What node-pty's UnixTerminal keeps privately: the master's read stream and descriptor. */
interface UnixTerminalInternals {
  _socket?: NodeJS.EventEmitter;
  _fd?: number;
}

/** Calls `onData` with whatever the pty still held when its reader saw the hang-up. */
export function readRestAtHangUp(term: IPty, onData: (text: string) => void): void {
  const { _socket: socket, _fd: fd } = term as unknown as UnixTerminalInternals;
  if (!socket || typeof fd !== 'number') {
    throw new ServerError('dependency', 'this node-pty keeps no _socket/_fd; server/shell/hangup.ts needs a new way to read the last output');
  }
  // Before the socket's own 'end' listener, which closes the descriptor.
  socket.prependListener('end', () => {
    const decoder = new StringDecoder('utf8');
    const buffer = Buffer.allocUnsafe(64 * 1024);
    let text = '';
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buffer);
      } catch {
        break; // EIO: everything was read (EAGAIN: the slave is still open, nothing more now)
      }
      if (n === 0) break;
      text += decoder.write(buffer.subarray(0, n));
    }
    text += decoder.end();
    if (text) onData(text);
  });
}
