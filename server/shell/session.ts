// One long-lived interactive bash on a pty. A state machine driven by pty data events:
//   starting --first mark--> idle --run()--> running --mark--> idle
//   any --shell exits--> dead (the owner starts a new session)
// Completion is the mark the shell prints at each prompt (see marks.ts), never a polling loop.
//
// The pty's process is session-init (server/shell/init/), which runs bash as its child and, being
// a child subreaper, ends everything the session started when the shell exits or the session is
// ended, setsid'd and nohup'd processes included. It stays with the server's user; bash gets the
// session user's.
import { EventEmitter } from 'node:events';
import { closeSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import * as pty from 'node-pty';
import { MAX_INLINE_LINE, MarkScanner, fileCommandLine, inlineCommandLine, nonceLine, type Mark } from './marks.js';
import { readRestAtHangUp } from './hangup.js';
import { killSession } from './procs.js';
import { createPrivateFile, uniqueName } from './spill.js';
import { ServerError } from '../errors.js';

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
  /** This session's directory (long commands, spilled output); only the server may write it. */
  dir: string;
  /** The rc file every shell reads (marks.ts rcScript). */
  rcPath: string;
  /** The session-init binary; without it bash runs directly on the pty (and setsid'd processes escape). */
  initPath?: string;
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

/** How long a session's init has, after SIGTERM, to end its processes before everything is killed. */
const CLOSE_GRACE_MS = 2000;

export class ShellSession extends EventEmitter<ShellEvents> {
  state: ShellState = 'starting';
  cwd: string;
  pythonPath: string | null = null;
  /** The pty's process: session-init (or bash without it); every session process is in its session. */
  readonly pid: number;
  /** Resolves at the first prompt; rejects if the shell dies first. Never times out by itself. */
  readonly ready: Promise<void>;
  /** Resolves when the pty's process has exited. */
  readonly exited: Promise<void>;

  private readonly term: pty.IPty;
  private readonly scanner: MarkScanner;
  private pendingEcho = '';
  private heldEcho = '';
  private commandFile: string | null = null;
  private commandCount = 0;
  private started: () => void = () => {};
  private afterP = false;
  private bashPid: number | null = null;

  constructor(private readonly options: ShellOptions) {
    super();
    this.cwd = options.cwd;
    const nonce = randomBytes(16).toString('hex');
    this.scanner = new MarkScanner(nonce, (text) => this.onText(text), (mark) => this.onMark(mark));
    const bashArgs = ['--noediting', '--noprofile', '--rcfile', options.rcPath, '-i'];
    const switchUser = options.user && options.user.uid !== process.getuid?.();
    const [file, args, ids] = options.initPath
      ? [options.initPath, [...(switchUser ? ['--uid', String(options.user!.uid), '--gid', String(options.user!.gid)] : []), '--', options.shell, ...bashArgs], {}]
      : [options.shell, bashArgs, switchUser ? { uid: options.user!.uid, gid: options.user!.gid } : {}];
    this.term = pty.spawn(file, args, {
      name: options.env.TERM ?? 'xterm-256color',
      cols: 200,
      rows: 50,
      cwd: options.cwd,
      env: options.env,
      ...ids,
    });
    this.pid = this.term.pid;
    // The rc file's first line reads this; the terminal holds it until then.
    this.term.write(nonceLine(nonce));
    let failed: (e: Error) => void = () => {};
    this.ready = new Promise<void>((resolve, reject) => {
      this.started = resolve;
      failed = reject;
    });
    this.ready.catch(() => {});
    let exited: () => void = () => {};
    this.exited = new Promise((resolve) => (exited = resolve));
    this.term.onData((data) => this.scanner.push(data));
    readRestAtHangUp(this.term, (data) => this.scanner.push(data));
    this.term.onExit(({ exitCode, signal }) => {
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
      // Whatever is left in the pty's session (there is nothing when session-init did its work).
      killSession(this.pid);
      exited();
    });
  }

  /** The bash process itself (session-init's child), or the pty's process when it is bash. */
  get shellPid(): number {
    if (this.bashPid !== null) return this.bashPid;
    if (!this.options.initPath) return (this.bashPid = this.pid);
    try {
      const children = readFileSync(`/proc/${this.pid}/task/${this.pid}/children`, 'latin1').trim().split(' ');
      const first = Number(children[0]);
      if (Number.isInteger(first) && first > 0) return (this.bashPid = first);
    } catch {
      // no /proc, or the init is gone
    }
    return this.pid;
  }

  /**
   * The terminal's foreground process group, when it is not the shell's own: the job a `C-c`
   * is for. Null when the shell itself is in the foreground (a builtin, or nothing running).
   */
  foregroundGroup(): number | null {
    try {
      const stat = readFileSync(`/proc/${this.pid}/stat`, 'latin1');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const tpgid = Number(fields[5]);
      const shellStat = readFileSync(`/proc/${this.shellPid}/stat`, 'latin1');
      const shellGroup = Number(shellStat.slice(shellStat.lastIndexOf(')') + 2).split(' ')[2]);
      return tpgid > 0 && tpgid !== shellGroup && tpgid !== this.pid ? tpgid : null;
    } catch {
      return null;
    }
  }

  /**
   * Types `command` at the prompt as one unit. Only when idle. A command too long for one
   * terminal line goes through a file first; if that file cannot be written this throws and the
   * shell stays idle.
   */
  run(command: string): void {
    if (this.state !== 'idle') throw new ServerError('busy', `cannot run a command while the shell is ${this.state}`);
    let line = inlineCommandLine(command);
    if (Buffer.byteLength(line) > MAX_INLINE_LINE) {
      const path = join(this.options.dir, uniqueName('command', ++this.commandCount, '.sh'));
      const fd = createPrivateFile(path, 0o600, this.options.user);
      this.commandFile = path;
      try {
        const data = Buffer.from(command);
        for (let at = 0; at < data.length; ) at += writeSync(fd, data, at);
      } catch (e) {
        this.removeCommandFile();
        throw e;
      } finally {
        closeSync(fd);
      }
      line = fileCommandLine(path);
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

  /**
   * Ends the shell and every process it started: session-init gets SIGTERM and kills its whole
   * tree; if it has not exited after a grace period, everything in the pty's session is killed.
   * Resolves when the pty's process has exited.
   */
  close(): Promise<void> {
    if (this.state === 'dead') return this.exited;
    if (this.options.initPath) {
      signal(this.pid, 'SIGTERM');
      const force = setTimeout(() => this.kill(), CLOSE_GRACE_MS);
      force.unref();
      this.exited.then(() => clearTimeout(force));
    } else {
      this.kill();
    }
    return this.exited;
  }

  private kill(): void {
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
    // A prompt prints P then S, or Q alone (stderr is not the terminal): the S after a P is the
    // same prompt. An S alone is a prompt whose PROMPT_COMMAND a command replaced.
    if (mark.source === 'S' && this.afterP) {
      this.afterP = false;
      return;
    }
    this.afterP = mark.source === 'P';
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

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}
