// The `run` semantics of PROTOCOL.md on top of one named shell session: a command at a time,
// soft and hard timeouts that never kill, continuation, input and control keys, refusal of a new
// command while one runs, and a fresh shell after the old one exits.
import { chownSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { RunArgs, RunObservation, ErrorObservation } from '../../protocol/index.js';
import { OutputCapture } from './output.js';
import { TextCleaner } from './clean.js';
import { ShellSession, type Completion, type ShellOptions } from './session.js';

export interface RunnerOptions extends Omit<ShellOptions, 'dir'> {
  /** This session's private directory (rc file, long commands, spilled output). */
  dir: string;
  /** Seconds without new output before a non-blocking command returns. */
  noChangeTimeoutSeconds: number;
  /** `content` longer than this is truncated. */
  maxOutputChars: number;
  /** Reported in every observation's metadata. */
  username: string;
  hostname: string;
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
}

type Ending = 'done' | 'soft' | 'hard' | 'refused';

export class CommandRunner {
  private shell: ShellSession;
  private command: Command | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private spills = 0;
  private closed = false;
  /** Why the last shell went away, reported with the next completion. */
  private restartNote = '';

  constructor(private readonly options: RunnerOptions) {
    mkdirSync(options.dir, { recursive: true, mode: 0o700 });
    if (options.user) chownSync(options.dir, options.user.uid, options.user.gid);
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

  /** Runs one `run` action; actions on a session are handled one at a time, in arrival order. */
  execute(args: RunArgs, timeoutSeconds: number | undefined, sink: OutputSink | null): Promise<RunObservation | ErrorObservation> {
    // Input for a command someone is already waiting on (a streamed command and its Ctrl-C) cannot
    // queue behind that wait: it goes to the terminal now.
    const command = this.command;
    if (args.is_input && command?.wake) return this.inputDuringWait(command, args);
    const result = this.queue.then(() => this.dispatch(args, timeoutSeconds, sink));
    this.queue = result.catch(() => {});
    return result;
  }

  /** Ends the shell and everything it started. */
  close(): void {
    this.closed = true;
    this.shell.close();
  }

  private async dispatch(args: RunArgs, timeoutSeconds: number | undefined, sink: OutputSink | null): Promise<RunObservation | ErrorObservation> {
    await this.ensureShell();
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
    const next: Command = {
      text: args.command,
      capture: new OutputCapture(
        this.options.maxOutputChars,
        () => join(this.options.dir, `output-${Date.now()}-${++this.spills}.log`),
        (path) => this.options.user && chownSync(path, this.options.user.uid, this.options.user.gid),
      ),
      cleaner: new TextCleaner(),
      interrupted: false,
      completion: null,
      sink: null,
      wake: null,
      settled: [],
      lastOutputAt: Date.now(),
    };
    this.command = next;
    this.shell.run(args.command);
    return this.wait(next, args, timeoutSeconds, sink, '');
  }

  /** Waits for completion, the hard timeout, or (non-blocking) no new output for a while. */
  private wait(command: Command, args: RunArgs, timeoutSeconds: number | undefined, sink: OutputSink | null, prefix: string): Promise<RunObservation> {
    return new Promise((resolve) => {
      const timers: NodeJS.Timeout[] = [];
      const finish = (ending: Ending) => {
        timers.forEach(clearTimeout);
        command.wake = null;
        command.settled.splice(0).forEach((notify) => notify(ending));
        command.sink = null;
        resolve(this.observe(command, args, ending, prefix, ending === 'hard' ? timeoutSeconds : this.options.noChangeTimeoutSeconds));
      };
      if (command.completion) return finish('done');
      command.sink = sink;
      command.wake = () => finish('done');
      if (timeoutSeconds !== undefined) timers.push(setTimeout(() => finish('hard'), timeoutSeconds * 1000));
      if (!args.blocking) {
        const softMs = this.options.noChangeTimeoutSeconds * 1000;
        command.lastOutputAt = Date.now();
        const check = () => {
          const quiet = Date.now() - command.lastOutputAt;
          if (quiet >= softMs) finish('soft');
          else timers.push(setTimeout(check, softMs - quiet));
        };
        timers.push(setTimeout(check, softMs));
      }
    });
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
        resolve(this.runObservation(args, '', exitCode, PREVIOUS, suffix));
      });
    });
  }

  /** Writes `text` and Enter, or a control key (`C-c`) as its byte. */
  private sendInput(command: Command, text: string): void {
    const key = /^C-([a-z])$/i.exec(text);
    if (key) {
      const letter = key[1]!.toUpperCase();
      if (letter === 'C') command.interrupted = true;
      this.shell.write(String.fromCharCode(letter.charCodeAt(0) - 64));
    } else {
      this.shell.write(text + '\r');
    }
  }

  private async observe(command: Command, args: RunArgs, ending: Ending, prefix: string, seconds: number | undefined): Promise<RunObservation> {
    const completion = ending === 'done' ? command.completion : null;
    const out = command.capture.take();
    let suffix: string;
    if (completion) {
      this.command = null;
      suffix = `\n[The command completed with exit code ${completion.exitCode}.${command.interrupted ? ' CTRL+C was sent.' : ''}]`;
      if (completion.shellExit) {
        await this.ensureShell();
        suffix += `\n[${this.restartNote}]`;
      }
    } else if (ending === 'refused') {
      suffix =
        `\n[Your command "${args.command}" is NOT executed. The previous command is still running - You CANNOT ` +
        'send new commands until the previous command is completed. By setting `is_input` to `true`, you can ' +
        `interact with the current process: ${GUIDANCE}]`;
    } else if (ending === 'hard') {
      suffix = `\n[The command timed out after ${seconds} seconds. ${GUIDANCE}]`;
    } else {
      suffix = `\n[The command has no new output after ${seconds} seconds. ${GUIDANCE}]`;
    }
    const exitCode = completion ? completion.exitCode : -1;
    return this.runObservation(args, out.text, exitCode, prefix, suffix, out.fullOutputPath);
  }

  private runObservation(args: RunArgs, content: string, exitCode: number, prefix: string, suffix: string, fullOutputPath?: string): RunObservation {
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
        ...(fullOutputPath ? { full_output_path: fullOutputPath } : {}),
      },
      success: exitCode === 0,
    };
  }

  /** Starts a fresh shell when the last one exited; waits until it is ready. */
  private async ensureShell(): Promise<void> {
    if (this.shell.state === 'dead' && !this.closed) this.shell = this.spawn();
    await this.shell.ready;
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

function errorObservation(content: string, errorId: string): ErrorObservation {
  return { observation: 'error', content, extras: { error_id: errorId }, success: false };
}
