// One long-lived interactive bash on a pty. A state machine driven by pty data events:
//   starting --first mark--> idle --run()--> running --mark--> idle
//   any --shell exits--> dead (the owner starts a new session)
// Completion is the mark the shell prints at each prompt (see marks.ts), never a polling loop.
import { EventEmitter } from 'node:events';
import { chownSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import * as pty from 'node-pty';
import { MAX_INLINE_LINE, MarkScanner, fileCommandLine, inlineCommandLine, rcScript, type Mark } from './marks.js';
import { readRestAtHangUp } from './hangup.js';
import { killSession } from './procs.js';

export interface ShellUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export interface ShellOptions {
  /** Path of bash. */
  shell: string;
  /** Directory the shell starts in. */
  cwd: string;
  /** The shell's whole environment. */
  env: Record<string, string>;
  /** Run as this user (the server must be root to switch). */
  user?: ShellUser;
  /** A private directory for this session's rc file and long commands. */
  dir: string;
  /** How long the shell may take to show its first prompt, in ms. Default 15000. */
  startTimeoutMs?: number;
}

export interface Completion {
  exitCode: number;
  cwd: string;
  pythonPath: string | null;
  /** Set when the shell itself ended (`exit`, `exec`, `set -e`, killed). */
  shellExit?: { code: number; signal: number };
}

export type ShellState = 'starting' | 'idle' | 'running' | 'dead';

interface ShellEvents {
  output: [text: string];
  done: [completion: Completion];
  exit: [code: number, signal: number];
}

export class ShellSession extends EventEmitter<ShellEvents> {
  state: ShellState = 'starting';
  cwd: string;
  pythonPath: string | null = null;
  readonly pid: number;
  /** Resolves at the first prompt; rejects if the shell dies or is too slow to start. */
  readonly ready: Promise<void>;

  private readonly term: pty.IPty;
  private readonly scanner: MarkScanner;
  private pendingEcho = '';
  private heldEcho = '';
  private commandFile: string | null = null;
  private commandCount = 0;
  private started: () => void = () => {};
  private afterP = false;

  constructor(private readonly options: ShellOptions) {
    super();
    this.cwd = options.cwd;
    const nonce = randomBytes(12).toString('hex');
    const rcPath = join(options.dir, 'bashrc');
    writeFileSync(rcPath, rcScript(nonce), { mode: 0o644 });
    this.scanner = new MarkScanner(nonce, (text) => this.onText(text), (mark) => this.onMark(mark));
    const switchUser = options.user && options.user.uid !== process.getuid?.();
    this.term = pty.spawn(options.shell, ['--noediting', '--noprofile', '--rcfile', rcPath, '-i'], {
      name: options.env.TERM ?? 'xterm-256color',
      cols: 200,
      rows: 50,
      cwd: options.cwd,
      env: options.env,
      ...(switchUser ? { uid: options.user!.uid, gid: options.user!.gid } : {}),
    });
    this.pid = this.term.pid;
    let failed: (e: Error) => void = () => {};
    this.ready = new Promise<void>((resolve, reject) => {
      this.started = resolve;
      failed = reject;
    });
    this.ready.catch(() => {});
    const startTimeoutMs = options.startTimeoutMs ?? 15000;
    const timer = setTimeout(() => {
      failed(new Error(`the shell ${options.shell} showed no prompt within ${startTimeoutMs} ms`));
      this.close();
    }, startTimeoutMs);
    this.ready.then(() => clearTimeout(timer), () => {});
    this.term.onData((data) => this.scanner.push(data));
    readRestAtHangUp(this.term, (data) => this.scanner.push(data));
    this.term.onExit(({ exitCode, signal }) => {
      clearTimeout(timer);
      this.scanner.flush();
      this.flushEcho();
      const wasRunning = this.state === 'running';
      this.state = 'dead';
      this.removeCommandFile();
      const code = signal ? 128 + signal : exitCode;
      failed(new Error(`the shell ${options.shell} exited with status ${code} before its first prompt`));
      if (wasRunning) {
        this.emit('done', { exitCode: code, cwd: this.cwd, pythonPath: this.pythonPath, shellExit: { code: exitCode, signal: signal ?? 0 } });
      }
      this.emit('exit', code, signal ?? 0);
      // Background jobs the shell left behind go with it.
      killSession(this.pid);
    });
  }

  /** Types `command` at the prompt as one unit. Only when idle. */
  run(command: string): void {
    if (this.state !== 'idle') throw new Error(`cannot run a command while the shell is ${this.state}`);
    let line = inlineCommandLine(command);
    if (Buffer.byteLength(line) > MAX_INLINE_LINE) {
      this.commandFile = join(this.options.dir, `command-${++this.commandCount}.sh`);
      writeFileSync(this.commandFile, command, { mode: 0o600 });
      if (this.options.user) chownSync(this.commandFile, this.options.user.uid, this.options.user.gid);
      line = fileCommandLine(this.commandFile);
    }
    this.state = 'running';
    this.pendingEcho = line + '\r\n';
    this.heldEcho = '';
    this.term.write(line + '\r');
  }

  /** Sends raw bytes to whatever reads the terminal. */
  write(data: string): void {
    if (this.state !== 'dead') this.term.write(data);
  }

  /** Ends the shell and every process it started. */
  close(): void {
    if (this.state === 'dead') return;
    killSession(this.pid);
    try {
      this.term.kill('SIGKILL');
    } catch {
      // already gone
    }
  }

  private onText(text: string): void {
    if (this.state !== 'running') return; // rc output, job notices at an idle prompt
    if (this.pendingEcho) {
      text = this.stripEcho(text);
      if (!text) return;
    }
    this.emit('output', text);
  }

  /** Drops the terminal's echo of the command line, which precedes anything the command prints. */
  private stripEcho(text: string): string {
    const seen = this.heldEcho + text;
    const echo = this.pendingEcho;
    if (seen.startsWith(echo)) {
      this.pendingEcho = '';
      this.heldEcho = '';
      return seen.slice(echo.length);
    }
    if (echo.startsWith(seen)) {
      this.heldEcho = seen;
      return '';
    }
    // Something else came first (output of an earlier background job): remove the echo where it is.
    const at = seen.indexOf(echo);
    this.pendingEcho = '';
    this.heldEcho = '';
    return at === -1 ? seen : seen.slice(0, at) + seen.slice(at + echo.length);
  }

  private flushEcho(): void {
    if (this.heldEcho) this.emit('output', this.heldEcho);
    this.pendingEcho = '';
    this.heldEcho = '';
  }

  private onMark(mark: Mark): void {
    // Each prompt prints P then S; an S right after a P is the same prompt.
    if (mark.source === 'P') this.afterP = true;
    else if (this.afterP) {
      this.afterP = false;
      return;
    }
    this.cwd = mark.cwd;
    this.pythonPath = mark.pythonPath;
    if (this.state === 'starting') {
      this.state = 'idle';
      this.started();
    } else if (this.state === 'running') {
      this.pendingEcho = '';
      this.heldEcho = '';
      this.state = 'idle';
      this.removeCommandFile();
      this.emit('done', { exitCode: mark.exitCode, cwd: mark.cwd, pythonPath: mark.pythonPath });
    }
  }

  private removeCommandFile(): void {
    if (this.commandFile) rmSync(this.commandFile, { force: true });
    this.commandFile = null;
  }
}
