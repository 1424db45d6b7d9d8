// The `run` semantics of PROTOCOL.md on top of one named shell session: a command at a time,
// soft and hard timeouts that never kill, continuation, input and control keys, refusal of a new
// command while one runs, and a fresh shell after the old one exits.
import { mkdirSync } from 'node:fs';
import type { RunArgs, RunIpythonArgs, RunMeta, RunObservation, ErrorObservation, IpythonObservation } from '@runtime-client/protocol';
import { CellRunner, type CellSink } from '../ipython/cells.js';
import { OutputCapture } from './output.js';
import { TextCleaner } from './clean.js';
import { ShellSession, type Completion, type ShellOptions } from './session.js';
import type { SpillFiles } from './spill.js';
import { ApiError } from '../errors.js';
import { waitForEnding, type Ending } from './wait.js';

export interface RunnerOptions extends ShellOptions {
  /** How long a new shell may take to show its first prompt before an action gives up on it, in ms. Default 15000. */
  startTimeoutMs?: number;
  /** The spill files of every session (one disk budget). */
  spills: SpillFiles;
  /** Seconds without new output before a non-blocking command returns. */
  noChangeTimeoutSeconds: number;
  /** `content` longer than this is truncated. */
  maxOutputChars: number;
  /** Reported in every observation's metadata. */
  username: string;
  hostname: string;
  /** The IPython cell driver, readable by the session user (run_ipython answers an error without it). */
  driverPath?: string;
}

/** Receives the raw output of the action currently waiting on the command. */
export type OutputSink = (raw: string) => void;

const PREVIOUS = '[Below is the output of the previous command.]\n';
const GUIDANCE =
  "You may wait longer to see additional output by sending empty command '', send other commands " +
  'to interact with the current process, send keys ("C-c", "C-z", "C-d") to interrupt/kill the ' +
  'previous command before sending your new command, or use the timeout parameter in execute_bash ' +
  'for future commands.';

interface Command {
  text: string;
  capture: OutputCapture;
  cleaner: TextCleaner;
  interrupted: boolean;
  /** Set when the command finished; its last output may not have been observed yet. */
  completion: Completion | null;
  sink: OutputSink | null;
  wake: (() => void) | null;
  /** Called when the action waiting on the command returns (see `execute`'s input bypass). */
  settled: ((ending: Ending) => void)[];
  lastOutputAt: number;
  /** The foreground process group the first `C-c` went to (null: the shell itself). */
  interruptedGroup: number | null;
  /** `C-c`s sent to this command. */
  interrupts: number;
}

/** Quoted commands in suffixes are cut to this many characters. */
const QUOTE_CHARS = 200;


export class CommandRunner {
  private shell: ShellSession;
  private command: Command | null = null;
  /** The session's Python interpreter for run_ipython, made on first use. */
  private cells: CellRunner | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** Why the last shell went away, reported with the next completion. */
  private restartNote = '';
  /** Actions queued or in progress. */
  private pending = 0;
  /** When an action last started or finished here (ms since epoch). */
  lastUsedAt = Date.now();

  constructor(private readonly options: RunnerOptions) {
    // Owned by the server and not writable by the session user: nothing can be planted at the
    // names the server creates here (see spill.ts).
    mkdirSync(options.dir, { recursive: true, mode: 0o711 });
    this.shell = this.spawn();
  }

  /** Resolves when the shell shows its first prompt. */
  get ready(): Promise<void> {
    return this.shell.ready;
  }

  get pid(): number {
    return this.shell.pid;
  }

  get cwd(): string {
    return this.shell.cwd;
  }

  /** True while a command is running (returned on a timeout, or being waited on). */
  get busy(): boolean {
    return this.shell.state === 'running';
  }

  /** True when nothing runs and no action is queued or in progress: the session may be evicted. */
  get idle(): boolean {
    return this.pending === 0 && this.shell.state !== 'running' && !this.cells?.busy;
  }

  /** starting, idle, running, dead, or ended (closed for good). */
  get state(): string {
    return this.closed ? 'ended' : this.shell.state;
  }

  /** Runs one `run` action; actions on a session are handled one at a time, in arrival order. */
  execute(args: RunArgs, timeoutSeconds: number | undefined, sink: OutputSink | null): Promise<RunObservation | ErrorObservation> {
    // Input for a command someone is already waiting on (a streamed command and its Ctrl-C) cannot
    // queue behind that wait: it goes to the terminal now.
    const command = this.command;
    this.lastUsedAt = Date.now();
    if (args.is_input && command?.wake) return this.inputDuringWait(command, args);
    this.pending++;
    const result = this.queue.then(() => this.dispatch(args, timeoutSeconds, sink));
    this.queue = result.catch(() => {});
    return result.finally(() => {
      this.pending--;
      this.lastUsedAt = Date.now();
    });
  }

  /**
   * Runs one `run_ipython` cell in the session's interpreter (started on first use, in the
   * shell's cwd, from the python its bash would run). Cells queue apart from commands.
   */
  async ipython(args: RunIpythonArgs, timeoutSeconds: number | undefined, sink: CellSink | null): Promise<IpythonObservation | ErrorObservation> {
    if (this.closed) return errorObservation('ERROR: This session was ended; send the action again to start a new one.', 'session_ended');
    this.lastUsedAt = Date.now();
    this.pending++;
    try {
      // The python and cwd the interpreter starts with come from the shell's prompts.
      const slow = await this.ensureShell();
      if (slow) return errorObservation(`ERROR: ${slow}`, 'session_starting');
      this.cells ??= new CellRunner({ ...this.options, user: this.options.user }, () => ({ cwd: this.shell.cwd, pythonPath: this.shell.pythonPath }));
      return await this.cells.execute(args, timeoutSeconds, sink);
    } finally {
      this.pending--;
      this.lastUsedAt = Date.now();
    }
  }

  /** Resolves when the shell is ready, or throws `unavailable` when it is still starting after the start timeout. */
  async waitReady(): Promise<void> {
    const slow = await this.ensureShell();
    if (slow) throw new ApiError('unavailable', slow);
  }

  /** Ends the shell and everything it started, for good. Resolves when they are gone. */
  close(): Promise<void> {
    this.closed = true;
    return Promise.all([this.shell.close(), this.cells?.close()]).then(() => {});
  }

  private async dispatch(args: RunArgs, timeoutSeconds: number | undefined, sink: OutputSink | null): Promise<RunObservation | ErrorObservation> {
    if (this.closed) return errorObservation('ERROR: This session was ended; send the action again to start a new one.', 'session_ended');
    const slow = await this.ensureShell();
    if (slow) return errorObservation(`ERROR: ${slow}`, 'session_starting');
    const command = this.command;
    const running = command !== null && command.completion === null;
    if (args.is_input) {
      if (!running) return errorObservation('ERROR: No previous running command to interact with.', 'no_running_command');
      this.sendInput(command, args.command);
      return this.wait(command, args, timeoutSeconds, sink, PREVIOUS);
    }
    if (args.command.trim() === '') {
      if (!command) return errorObservation('ERROR: No previous running command to retrieve logs from.', 'no_running_command');
      return this.wait(command, args, timeoutSeconds, sink, PREVIOUS);
    }
    if (running) return this.observe(command, args, 'refused', PREVIOUS, timeoutSeconds);
    const { dir, user, spills } = this.options;
    const next: Command = {
      text: args.command,
      capture: new OutputCapture(this.options.maxOutputChars, { files: spills, create: () => spills.create(dir, user) }),
      cleaner: new TextCleaner(),
      interrupted: false,
      completion: null,
      sink: null,
      wake: null,
      settled: [],
      lastOutputAt: Date.now(),
      interruptedGroup: null,
      interrupts: 0,
    };
    try {
      this.shell.run(args.command);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      return errorObservation(`ERROR: The command was not run: its text could not be handed to the shell (${err.code ?? err.message}). The session is idle.`, 'command_not_written');
    }
    this.command = next;
    return this.wait(next, args, timeoutSeconds, sink, '');
  }

  /** Waits for completion, the hard timeout, or (non-blocking) no new output for a while. */
  private async wait(command: Command, args: RunArgs, timeoutSeconds: number | undefined, sink: OutputSink | null, prefix: string): Promise<RunObservation> {
    const soft = this.options.noChangeTimeoutSeconds;
    const ending = await waitForEnding(command, sink, timeoutSeconds, args.blocking ? null : soft);
    return this.observe(command, args, ending, prefix, ending === 'hard' ? timeoutSeconds : soft);
  }


  /**
   * Sends input to a command another action is waiting on; answers when that action does, with
   * the same exit code and an empty content (the output belongs to the waiting action).
   */
  private inputDuringWait(command: Command, args: RunArgs): Promise<RunObservation> {
    this.sendInput(command, args.command);
    return new Promise((resolve) => {
      command.settled.push((ending) => {
        const done = ending === 'done' ? command.completion ?? null : null;
        const exitCode = done ? done.exitCode : -1;
        const suffix = done
          ? `\n[The command completed with exit code ${exitCode}.${command.interrupted ? ' CTRL+C was sent.' : ''} Its output went to the action that was waiting on it.]`
          : '\n[The input was sent. The command is still running; its output goes to the action waiting on it.]';
        resolve(this.runObservation(args, '', exitCode, PREVIOUS, suffix, { still_running: !done, refused: false }));
      });
    });
  }

  /**
   * Writes `text` and Enter, or a control key (`C-c`) as its byte. A second `C-c` to a command
   * that is still running ends the foreground job it went to (SIGKILL to its process group), or,
   * when the shell itself was in the foreground (a builtin loop that traps SIGINT), the shell
   * (the session restarts).
   */
  private sendInput(command: Command, text: string): void {
    const key = /^C-([a-z])$/i.exec(text);
    if (!key) return this.shell.write(text + '\r');
    const letter = key[1]!.toUpperCase();
    if (letter === 'C' && command.completion === null) {
      command.interrupted = true;
      if (++command.interrupts === 1) command.interruptedGroup = this.shell.foregroundGroup();
      else return this.forceInterrupt(command);
    }
    this.shell.write(String.fromCharCode(letter.charCodeAt(0) - 64));
  }

  private forceInterrupt(command: Command): void {
    const group = command.interruptedGroup ?? this.shell.foregroundGroup();
    if (group === null) {
      void this.shell.close();
      return;
    }
    command.interruptedGroup = group;
    killGroup(group);
  }

  private async observe(command: Command, args: RunArgs, ending: Ending, prefix: string, seconds: number | undefined): Promise<RunObservation> {
    const completion = ending === 'done' ? command.completion : null;
    const out = command.capture.take();
    let suffix: string;
    if (completion) {
      this.command = null;
      command.capture.close();
      // An interrupted job's stragglers (children that ignored SIGINT, a fork bomb) go with it.
      if (command.interruptedGroup !== null) killGroup(command.interruptedGroup);
      suffix = `\n[The command completed with exit code ${completion.exitCode}.${command.interrupted ? ' CTRL+C was sent.' : ''}]`;
      if (completion.shellExit && this.closed) {
        suffix += '\n[The session was ended.]';
      } else if (completion.shellExit) {
        await this.ensureShell();
        suffix += `\n[${this.restartNote}]`;
      }
    } else if (ending === 'refused') {
      suffix =
        `\n[Your command "${quote(args.command)}" is NOT executed. The previous command is still running - You CANNOT ` +
        'send new commands until the previous command is completed. By setting `is_input` to `true`, you can ' +
        `interact with the current process: ${GUIDANCE}]`;
    } else if (ending === 'hard') {
      suffix = `\n[The command timed out after ${seconds} seconds. ${GUIDANCE}]`;
    } else {
      suffix = `\n[The command has no new output after ${seconds} seconds. ${GUIDANCE}]`;
    }
    const exitCode = completion ? completion.exitCode : -1;
    const meta: RunMeta = { still_running: !completion, refused: ending === 'refused', ...(out.fullOutputPath ? { full_output_path: out.fullOutputPath } : {}) };
    return this.runObservation(args, out.text, exitCode, prefix, suffix, meta);
  }

  /** `meta` says as fields what the suffix says in OpenHands' words (which stay as they are). */
  private runObservation(args: RunArgs, content: string, exitCode: number, prefix: string, suffix: string, meta: RunMeta): RunObservation {
    return {
      observation: 'run',
      content,
      extras: {
        command: args.command,
        hidden: false,
        metadata: {
          exit_code: exitCode,
          pid: this.shell.pid ?? -1,
          username: this.options.username,
          hostname: this.options.hostname,
          working_dir: this.shell.cwd,
          py_interpreter_path: this.shell.pythonPath,
          prefix,
          suffix,
        },
      },
      success: exitCode === 0,
      meta,
    };
  }

  /**
   * Starts a fresh shell when the last one exited, and waits until it is ready. A shell still
   * reading its rc files after the start timeout is left alone (killing it midway can leave
   * their locks behind): resolves with a sentence saying so (the action answers it as an error
   * observation), and the next action waits again. Null once the shell is ready.
   */
  private async ensureShell(): Promise<string | null> {
    if (this.shell.state === 'dead' && !this.closed) this.shell = this.spawn();
    if (this.shell.state === 'idle' || this.shell.state === 'running') return null; // ready: no timer per action
    const ms = this.options.startTimeoutMs ?? 15000;
    let timer: NodeJS.Timeout | undefined;
    const slow = new Promise<'slow'>((resolve) => (timer = setTimeout(() => resolve('slow'), ms)));
    try {
      const outcome = await Promise.race([this.shell.ready, slow]);
      if (outcome !== 'slow') return null;
    } finally {
      clearTimeout(timer);
    }
    return (
      `The session's shell has not shown its first prompt after ${ms / 1000} seconds: it is still starting (its rc files may be slow). ` +
      'It was not restarted. Send the action again to wait longer, or reset the session (POST /sessions/{name}/reset).'
    );
  }

  private spawn(): ShellSession {
    const shell = new ShellSession(this.options);
    shell.on('output', (raw) => {
      const command = this.command;
      if (!command) return;
      command.lastOutputAt = Date.now();
      command.sink?.(raw);
      command.capture.push(command.cleaner.push(raw));
    });
    shell.on('done', (completion) => {
      const command = this.command;
      if (!command) return;
      command.capture.push(command.cleaner.flush());
      command.completion = completion;
      command.wake?.();
    });
    shell.on('exit', (code, signal) => {
      const how = signal ? `was killed by signal ${signal}` : `exited with status ${code}`;
      this.restartNote = `The shell ${how}, so the session was restarted: its working directory, variables and other shell state were reset.`;
    });
    return shell;
  }
}

/** The command as quoted in a suffix: cut, with its length, when long. */
function quote(command: string): string {
  return command.length <= QUOTE_CHARS ? command : `${command.slice(0, QUOTE_CHARS)}... (${command.length} characters in all)`;
}

/** SIGKILL to every process of a group, until none is left (a fork bomb refills it). */
function killGroup(group: number): void {
  for (let round = 0; round < 100; round++) {
    try {
      process.kill(-group, 'SIGKILL');
    } catch {
      return; // ESRCH: the group is empty
    }
  }
}

function errorObservation(content: string, errorId: string): ErrorObservation {
  return { observation: 'error', content, extras: { error_id: errorId }, success: false };
}
