// One long-lived Python interpreter running the cell driver (driver.py), for one shell session.
// It is started from the image's own python3, as the session user, under the session's
// subreaper (session-init), so `!cmd` children and whatever a cell forks end with it.
//
//   fd 0  /dev/null          fd 1  output (the driver puts fd 2 onto it: one ordered stream)
//   fd 2  a pipe, read only until the driver is ready (why an interpreter could not start)
//   fd 3  control: newline-delimited JSON (hello → ready, cell → done)
//
// A cell has finished when both its end mark (on fd 1, after all its output) and its `done`
// (on fd 3) have arrived: the two pipes are read independently, so either can come first.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { isAscii } from 'node:buffer';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { sessionInitArgs } from '../shell/init.js';
import type { ShellUser } from '../shell/session.js';

export interface KernelOptions {
  python: string;
  driverPath: string;
  cwd: string;
  env: Record<string, string>;
  user?: ShellUser;
  /** session-init; without it the interpreter runs directly (and what it forks may outlive it). */
  initPath?: string;
}

export interface ReadyInfo {
  pid: number;
  python: string;
  version: string;
  ipython: boolean;
}

export interface CellDone {
  images: string[];
  /** The exception class the cell raised, or null. */
  error: string | null;
}

interface KernelEvents {
  /**
   * Output text, and the same as UTF-8 when it is exactly the bytes the pipe brought. Text null:
   * the bytes are ASCII with no ESC (decode them when needed).
   */
  output: [text: string | null, encoded?: Buffer];
  done: [id: number, done: CellDone];
  exit: [description: string];
}

/** The end mark's OSC number; the nonce makes it unforgeable by accident. */
const MARK_PREFIX = '\x1b]6974;';
/** A control line longer than this (figures included) is a protocol violation: the kernel is killed. */
const MAX_CONTROL_LINE = 64 * 1024 * 1024;
/** What is kept of fd 2 to explain an interpreter that could not start. */
const MAX_STDERR = 8192;
/** How long, after SIGTERM, session-init has to end the tree before everything is killed. */
const CLOSE_GRACE_MS = 2000;

export class Kernel extends EventEmitter<KernelEvents> {
  readonly ready: Promise<ReadyInfo>;
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>;
  alive = true;
  private readonly child: ChildProcess;
  private readonly control: Socket;
  private readonly nonce = randomBytes(16).toString('hex');
  /** The start of a UTF-8 sequence the last chunk ended in. */
  private partial: Buffer | null = null;
  private carry = '';
  private controlBuffer = '';
  private stderr = '';
  private isReady = false;
  /** Why the server ended the interpreter, for the exit description. */
  private endedBecause: string | null = null;
  /** The cell whose end mark is awaited. */
  private markFor: number | null = null;
  private markSeen = false;
  private doneMessage: { id: number; done: CellDone } | null = null;

  constructor(options: KernelOptions) {
    super();
    const switchUser = options.user && options.user.uid !== process.getuid?.();
    const ids = switchUser ? { uid: options.user!.uid, gid: options.user!.gid } : undefined;
    const [file, args, spawnIds] = options.initPath
      ? [options.initPath, sessionInitArgs(options.python, [options.driverPath], ids), {}]
      : [options.python, [options.driverPath], ids ?? {}];
    this.child = spawn(file, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      // Its own process group: C-c (SIGINT) goes to the cell and what it started, not to the server.
      detached: true,
      ...spawnIds,
    });
    this.control = this.child.stdio[3] as Socket;
    let readyResolve: (info: ReadyInfo) => void = () => {};
    let readyReject: (e: Error) => void = () => {};
    this.ready = new Promise((resolve, reject) => {
      readyResolve = resolve;
      readyReject = reject;
    });
    this.ready.catch(() => {});
    this.exited = new Promise((resolve) => {
      this.child.on('close', (code, signal) => {
        this.alive = false;
        const how = this.endedBecause ? `was ended ${this.endedBecause}` : signal ? `was killed by ${signal}` : `exited with status ${code}`;
        const why = this.stderr.trim() ? `: ${lastLines(this.stderr)}` : '';
        readyReject(new Error(`${how}${this.isReady ? '' : ' before it was ready'}${why}`));
        this.emit('exit', how);
        resolve();
      });
    });
    this.child.on('error', (error) => {
      this.stderr += `${error.message}\n`;
    });
    this.child.stdout!.on('data', (chunk: Buffer) => this.onBytes(chunk));
    this.child.stderr!.on('data', (chunk: Buffer) => {
      if (this.stderr.length < MAX_STDERR) this.stderr += chunk.toString('utf8').slice(0, MAX_STDERR - this.stderr.length);
    });
    this.control.on('error', () => {});
    this.control.setEncoding('utf8');
    this.control.on('data', (text: string) => {
      this.controlBuffer += text;
      for (let nl = this.controlBuffer.indexOf('\n'); nl !== -1; nl = this.controlBuffer.indexOf('\n')) {
        const line = this.controlBuffer.slice(0, nl);
        this.controlBuffer = this.controlBuffer.slice(nl + 1);
        this.onControl(line, (info) => {
          this.isReady = true;
          readyResolve(info);
        });
      }
      if (this.controlBuffer.length > MAX_CONTROL_LINE) this.violation('a control line over 64 MiB');
    });
    this.send({ op: 'hello', nonce: this.nonce });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Runs a cell; `cwd` (when given) is entered first. Its output, then `done`, follow as events. */
  run(id: number, code: string, cwd: string | null): void {
    this.markFor = id;
    this.markSeen = false;
    this.doneMessage = null;
    this.send({ op: 'cell', id, code, cwd });
  }

  /** SIGINT to the interpreter and everything in its process group (a `!sleep` included). */
  interrupt(): void {
    this.signalGroup('SIGINT');
  }

  /** Ends the interpreter and everything it started; resolves when it is gone. `because` completes "was ended ...". */
  close(because = 'by the server'): Promise<void> {
    if (!this.alive) return this.exited;
    this.endedBecause ??= because;
    this.signalGroup('SIGTERM');
    const force = setTimeout(() => this.signalGroup('SIGKILL'), CLOSE_GRACE_MS);
    force.unref();
    void this.exited.then(() => clearTimeout(force));
    return this.exited;
  }

  private send(message: object): void {
    if (this.alive && this.control.writable) this.control.write(JSON.stringify(message) + '\n');
  }

  private signalGroup(signal: NodeJS.Signals): void {
    const pid = this.child.pid;
    if (!pid || !this.alive) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // already gone
    }
  }

  /** Cuts the pipe's bytes at a character boundary, so that each chunk decodes alone. */
  private onBytes(chunk: Buffer): void {
    if (this.partial) {
      chunk = Buffer.concat([this.partial, chunk]);
      this.partial = null;
    }
    const cut = completeLength(chunk);
    if (cut < chunk.length) {
      this.partial = Buffer.from(chunk.subarray(cut));
      chunk = chunk.subarray(0, cut);
    }
    if (!chunk.length) return;
    // No ESC, no mark: plain ASCII goes on as bytes (a fast printer's chunks never become strings).
    if (!this.carry && isAscii(chunk) && chunk.indexOf(0x1b) === -1) this.emit('output', null, chunk);
    else this.onOutput(chunk.toString('utf8'), chunk);
  }

  private onOutput(text: string, encoded: Buffer): void {
    const mark = this.markFor === null || this.markSeen ? null : `${MARK_PREFIX}${this.nonce};${this.markFor}\x07`;
    if (!mark) {
      // Invalid UTF-8 decodes to U+FFFD: then the bytes are not the text's encoding.
      if (text) this.emit('output', text, text.includes('\ufffd') ? undefined : encoded);
      return;
    }
    if (!this.carry && !text.includes(MARK_PREFIX[0]!)) {
      this.emit('output', text, text.includes('\ufffd') ? undefined : encoded);
      return;
    }
    const s = this.carry + text;
    this.carry = '';
    const at = s.indexOf(mark);
    if (at !== -1) {
      if (at > 0) this.emit('output', s.slice(0, at));
      this.markSeen = true;
      this.settle();
      // Anything after the mark was printed after the cell (a background thread): nobody's output.
      return;
    }
    const keep = partialSuffix(s, mark);
    if (s.length > keep) this.emit('output', s.slice(0, s.length - keep));
    this.carry = s.slice(s.length - keep);
  }

  private onControl(line: string, ready: (info: ReadyInfo) => void): void {
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return this.violation('a control line that is not JSON');
    }
    if (message.op === 'ready') {
      ready({
        pid: Number(message.pid),
        python: String(message.python ?? ''),
        version: String(message.version ?? ''),
        ipython: message.ipython === true,
      });
    } else if (message.op === 'done' && typeof message.id === 'number') {
      const images = Array.isArray(message.images) ? message.images.filter((x): x is string => typeof x === 'string' && x.startsWith('data:image/')) : [];
      const error = typeof message.error === 'string' ? message.error : null;
      this.doneMessage = { id: message.id, done: { images, error } };
      this.settle();
    }
  }

  /** Emits `done` once the cell's mark and its `done` message have both arrived. */
  private settle(): void {
    const done = this.doneMessage;
    if (!done || !this.markSeen || done.id !== this.markFor) return;
    this.markFor = null;
    this.doneMessage = null;
    this.emit('done', done.id, done.done);
  }

  private violation(what: string): void {
    void this.close(`because its driver sent ${what}`);
  }
}

/** Length of the longest suffix of `s` that is a proper prefix of `mark`. */
function partialSuffix(s: string, mark: string): number {
  const from = Math.max(0, s.length - mark.length + 1);
  for (let i = from; i < s.length; i++) {
    if (mark.startsWith(s.slice(i))) return s.length - i;
  }
  return 0;
}

/** Bytes of `chunk` up to the start of a UTF-8 sequence that is cut off at its end. */
function completeLength(chunk: Buffer): number {
  const n = chunk.length;
  for (let back = 1; back <= 3 && back <= n; back++) {
    const byte = chunk[n - back]!;
    if ((byte & 0xc0) === 0x80) continue; // a continuation byte: look further back
    if (byte < 0x80) return n; // ASCII: complete
    const need = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return back < need ? n - back : n;
  }
  return n;
}

function lastLines(text: string): string {
  return text.trim().split('\n').slice(-6).join('\n');
}
