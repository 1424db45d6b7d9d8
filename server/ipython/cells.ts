// The `run_ipython` semantics of PROTOCOL.md for one shell session: one long-lived interpreter
// (kernel.ts) started on first use from the python the session's bash would run, cells one at a
// time in the bash session's cwd, soft and hard timeouts that never kill, `""` for more output,
// `C-c` for KeyboardInterrupt (a second one ends the interpreter), refusal of a new cell while
// one runs, and a fresh interpreter, with a note, after the last one died.
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import type { ErrorObservation, IpythonMeta, IpythonObservation, RunIpythonArgs } from '@runtime-client/protocol';
import { OutputCapture } from '../shell/output.js';
import { TextCleaner, hasControlBytes } from '../shell/clean.js';
import type { ShellUser } from '../shell/session.js';
import type { SpillFiles } from '../shell/spill.js';
import { Kernel, type CellDone, type ReadyInfo } from './kernel.js';
import { waitForEnding, type Ending } from '../shell/wait.js';

export interface CellRunnerOptions {
  env: Record<string, string>;
  user?: ShellUser;
  initPath?: string;
  /** The driver (driver.py) as the session user can read it; undefined when the server has none. */
  driverPath?: string;
  /** The session's directory (spill files). */
  dir: string;
  spills: SpillFiles;
  noChangeTimeoutSeconds: number;
  maxOutputChars: number;
  /** How long an interpreter may take to start (import IPython...), in ms. Default 60000. */
  startTimeoutMs?: number;
}

/** What the bash session says now: where a cell runs, and which python it would start. */
export interface ShellView {
  cwd: string;
  pythonPath: string | null;
}

/** Receives the raw output of a cell: its text, or (text null) its ASCII bytes only. */
export type CellSink = (raw: string | null, encoded?: Buffer) => void;
type OutputSink = CellSink;

interface Cell {
  id: number;
  code: string;
  capture: OutputCapture;
  cleaner: TextCleaner;
  completion: (CellDone & { exitNote?: string }) | null;
  sink: OutputSink | null;
  wake: (() => void) | null;
  settled: ((ending: Ending) => void)[];
  lastOutputAt: number;
  interrupts: number;
  /** Said before the output: the last interpreter died, or kernel_init_code failed. */
  preamble: string;
}

const PREVIOUS = '[Below is the output of the previous cell.]\n';
const GUIDANCE =
  "You may wait longer to see additional output by sending empty code '', send \"C-c\" to interrupt the cell " +
  '(KeyboardInterrupt; a second "C-c" ends the interpreter), or use the timeout parameter for future cells.';
const NO_OUTPUT = '[Code executed successfully with no output]';
const QUOTE_CHARS = 200;

export class CellRunner {
  private kernel: Kernel | null = null;
  private info: ReadyInfo | null = null;
  private cell: Cell | null = null;
  private nextId = 1;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** Why the last interpreter went away, said at the top of the next cell. */
  private deathNote = '';
  /** The bash cwd last handed to the interpreter. */
  private syncedCwd: string | null = null;
  private initCodeRun = false;

  constructor(
    private readonly options: CellRunnerOptions,
    private readonly shell: () => ShellView,
  ) {}

  /** True while a cell runs (returned on a timeout, or being waited on). */
  get busy(): boolean {
    return this.cell !== null && this.cell.completion === null;
  }

  /** The interpreter's pid, when one runs. */
  get pid(): number | null {
    return this.kernel?.alive ? this.kernel.pid : null;
  }

  execute(args: RunIpythonArgs, timeoutSeconds: number | undefined, sink: OutputSink | null): Promise<IpythonObservation | ErrorObservation> {
    const cell = this.cell;
    if (isKey(args.code) && cell?.wake) return this.keyDuringWait(cell, args);
    const result = this.queue.then(() => this.dispatch(args, timeoutSeconds, sink));
    this.queue = result.catch(() => {});
    return result;
  }

  close(): Promise<void> {
    this.closed = true;
    return this.kernel?.close() ?? Promise.resolve();
  }

  private async dispatch(args: RunIpythonArgs, timeoutSeconds: number | undefined, sink: OutputSink | null): Promise<IpythonObservation | ErrorObservation> {
    if (this.closed) return errorObservation('ERROR: This session was ended; send the action again to start a new one.', 'session_ended');
    const cell = this.cell;
    const running = cell !== null && cell.completion === null;
    if (isKey(args.code)) {
      if (!running) return errorObservation(`ERROR: No running cell to send ${args.code.trim()} to.`, 'no_running_cell');
      if (!this.sendKey(cell, args.code)) return errorObservation(`ERROR: Only "C-c" can be sent to a running cell, not ${args.code.trim()}.`, 'bad_key');
      return this.wait(cell, args, timeoutSeconds, sink, PREVIOUS);
    }
    if (args.code.trim() === '') {
      if (!cell) return errorObservation('ERROR: No previous running cell to retrieve output from.', 'no_running_cell');
      return this.wait(cell, args, timeoutSeconds, sink, PREVIOUS);
    }
    if (running) return this.observe(cell, args, 'refused', PREVIOUS, timeoutSeconds);
    const started = await this.ensureKernel();
    if (typeof started === 'string') return errorObservation(started, started.includes('no Python') ? 'no_python' : 'python_failed');
    const kernel = started;
    let preamble = this.deathNote ? `[${this.deathNote}]\n` : '';
    this.deathNote = '';
    if (args.kernel_init_code.trim() && !this.initCodeRun) {
      this.initCodeRun = true;
      const init = await this.runQuietly(kernel, args.kernel_init_code);
      if (init) preamble += `[kernel_init_code failed:]\n${init}\n`;
    }
    const next = this.newCell(args.code, preamble);
    this.cell = next;
    kernel.run(next.id, args.code, this.cwdToSend());
    return this.wait(next, args, timeoutSeconds, sink, '');
  }

  /** Runs code before a cell (kernel_init_code); resolves with its output when it raised, else ''. */
  private runQuietly(kernel: Kernel, code: string): Promise<string> {
    const cell = this.newCell(code, '');
    this.cell = cell;
    kernel.run(cell.id, code, this.cwdToSend());
    return new Promise((resolve) => {
      cell.wake = () => {
        cell.wake = null;
        this.cell = null;
        const out = cell.capture.take().text;
        cell.capture.close();
        resolve(cell.completion?.error || cell.completion?.exitNote ? out.trimEnd() || String(cell.completion?.exitNote) : '');
      };
      if (cell.completion) cell.wake();
    });
  }

  private newCell(code: string, preamble: string): Cell {
    const { dir, user, spills } = this.options;
    return {
      id: this.nextId++,
      code,
      capture: new OutputCapture(this.options.maxOutputChars, { files: spills, create: () => spills.create(dir, user) }),
      cleaner: new TextCleaner(),
      completion: null,
      sink: null,
      wake: null,
      settled: [],
      lastOutputAt: Date.now(),
      interrupts: 0,
      preamble,
    };
  }

  /** The bash cwd, when it changed since the interpreter last heard it (a cell's own chdir persists otherwise). */
  private cwdToSend(): string | null {
    const { cwd } = this.shell();
    if (cwd === this.syncedCwd) return null;
    this.syncedCwd = cwd;
    return cwd;
  }

  /** Waits for completion, the hard timeout, or (non-blocking) no new output for a while. */
  private async wait(cell: Cell, args: RunIpythonArgs, timeoutSeconds: number | undefined, sink: OutputSink | null, prefix: string): Promise<IpythonObservation> {
    const soft = this.options.noChangeTimeoutSeconds;
    const ending = await waitForEnding(cell, sink, timeoutSeconds, args.blocking ? null : soft);
    return this.observe(cell, args, ending, prefix, ending === 'hard' ? timeoutSeconds : soft);
  }


  /** A key for a cell another action is waiting on: sent now; answers when that action does. */
  private keyDuringWait(cell: Cell, args: RunIpythonArgs): Promise<IpythonObservation | ErrorObservation> {
    if (!this.sendKey(cell, args.code)) return Promise.resolve(errorObservation(`ERROR: Only "C-c" can be sent to a running cell, not ${args.code.trim()}.`, 'bad_key'));
    return new Promise((resolve) => {
      cell.settled.push((ending) => {
        const done = ending === 'done';
        const content = done
          ? '[The cell finished. Its output went to the action that was waiting on it.]'
          : '[C-c was sent. The cell is still running; its output goes to the action waiting on it.]';
        resolve(this.observation(args, content, null, { still_running: !done, refused: false, exception: done ? cell.completion?.error ?? null : null, python: this.info?.python ?? null }, done && !cell.completion?.error));
      });
    });
  }

  /** C-c: SIGINT to the interpreter's group; a second one to a cell still running ends the interpreter. */
  private sendKey(cell: Cell, code: string): boolean {
    if (code.trim().toUpperCase() !== 'C-C') return false;
    if (cell.completion) return true;
    if (++cell.interrupts === 1) this.kernel?.interrupt();
    else void this.kernel?.close('by a second C-c');
    return true;
  }

  private observe(cell: Cell, args: RunIpythonArgs, ending: Ending, prefix: string, seconds: number | undefined): IpythonObservation {
    const completion = ending === 'done' ? cell.completion : null;
    const out = cell.capture.take();
    let text = (prefix ? '' : cell.preamble) + out.text;
    cell.preamble = '';
    let images: string[] | null = null;
    if (completion) {
      this.cell = null;
      cell.capture.close();
      if (completion.exitNote) text = withNote(text, `[${completion.exitNote}]`);
      else if (!text.trim() && !prefix) text = NO_OUTPUT;
      images = completion.images.length ? completion.images : null;
    } else if (ending === 'refused') {
      text = withNote(
        text,
        `[Your code "${quote(args.code)}" is NOT executed. The previous cell is still running - You CANNOT ` +
          `run new code until the previous cell is completed. ${GUIDANCE}]`,
      );
    } else if (ending === 'hard') {
      text = withNote(text, `[The cell timed out after ${seconds} seconds. ${GUIDANCE}]`);
    } else {
      text = withNote(text, `[The cell has no new output after ${seconds} seconds. ${GUIDANCE}]`);
    }
    const meta: IpythonMeta = {
      still_running: !completion,
      refused: ending === 'refused',
      exception: completion?.error ?? null,
      python: this.info?.python ?? null,
      ...(out.fullOutputPath ? { full_output_path: out.fullOutputPath } : {}),
    };
    return this.observation(args, prefix + text, images, meta, Boolean(completion) && !completion!.error && !completion!.exitNote);
  }

  /** OpenHands' Jupyter plugin's shape: content stripped at the end, then (include_extra) the cwd and interpreter. */
  private observation(args: RunIpythonArgs, content: string, images: string[] | null, meta: IpythonMeta, success: boolean): IpythonObservation {
    let text = content.trimEnd();
    if (args.include_extra) {
      text += `\n[Jupyter current working directory: ${this.shell().cwd}]`;
      text += `\n[Jupyter Python interpreter: ${this.info?.python ?? 'none'}]`;
    }
    return { observation: 'run_ipython', content: text, extras: { code: args.code, image_urls: images }, success, meta };
  }

  /** The running interpreter, or a fresh one; a sentence when none can be started. */
  private async ensureKernel(): Promise<Kernel | string> {
    if (this.kernel?.alive) return this.kernel;
    const { driverPath } = this.options;
    if (!driverPath) return 'ERROR: This server has no IPython driver (ipython-driver.py was not found beside it), so it cannot run cells.';
    const view = this.shell();
    const python = findPython(view.pythonPath, this.options.env.PATH ?? '');
    if (!python) {
      return (
        "ERROR: This image has no Python: neither python3 nor python is on the session's PATH " +
        `(${this.options.env.PATH ?? ''}), so the cell cannot run. Nothing was installed.`
      );
    }
    const kernel = new Kernel({ python, driverPath, cwd: view.cwd, env: kernelEnv(this.options.env, python), user: this.options.user, initPath: this.options.initPath });
    this.kernel = kernel;
    this.syncedCwd = view.cwd;
    this.initCodeRun = false;
    kernel.on('output', (raw, encoded) => {
      const cell = this.cell;
      if (!cell || cell.completion) return;
      cell.lastOutputAt = Date.now();
      cell.sink?.(raw, encoded);
      if (raw === null && cell.cleaner.idle && !hasControlBytes(encoded!)) return cell.capture.pushAscii(encoded!);
      const given = raw ?? encoded!.toString('latin1');
      const text = cell.cleaner.push(given);
      // Plain text comes out of the cleaner as it went in: its bytes are the pipe's.
      cell.capture.push(text, text === given ? encoded : undefined);
    });
    kernel.on('done', (id, done) => {
      const cell = this.cell;
      if (!cell || cell.id !== id) return;
      cell.capture.push(cell.cleaner.flush());
      cell.completion = done;
      cell.wake?.();
    });
    kernel.on('exit', (how) => {
      if (this.kernel !== kernel) return;
      const note = `The Python interpreter ${how}`;
      const cell = this.cell;
      if (cell && !cell.completion) {
        cell.capture.push(cell.cleaner.flush());
        cell.completion = { images: [], error: null, exitNote: `${note} while this cell ran; the next cell starts a fresh one: its variables and imports are gone.` };
        cell.wake?.();
      } else if (!this.closed) {
        this.deathNote = `${note}; this cell runs in a fresh one: variables and imports from earlier cells are gone.`;
      }
    });
    const ms = this.options.startTimeoutMs ?? 60000;
    let timer: NodeJS.Timeout | undefined;
    const slow = new Promise<'slow'>((resolve) => (timer = setTimeout(() => resolve('slow'), ms)));
    try {
      const outcome = await Promise.race([kernel.ready, slow]);
      if (outcome === 'slow') {
        void kernel.close();
        return `ERROR: The Python interpreter ${python} did not start the cell driver within ${ms / 1000} seconds; it was stopped.`;
      }
      this.info = outcome;
      return kernel;
    } catch (e) {
      this.deathNote = '';
      return `ERROR: The Python interpreter ${python} could not run the cell driver: it ${(e as Error).message}`;
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * The python a cell runs in: the one the session's bash would run (its `python`, or `python3`,
 * as the last prompt saw them, so an activated virtualenv counts), preferring `python3` beside
 * it (a `python` that is Python 2); else python3 or python on PATH.
 */
export function findPython(sessionPython: string | null, path: string): string | null {
  const candidates: string[] = [];
  if (sessionPython && sessionPython.startsWith('/')) candidates.push(join(dirname(sessionPython), 'python3'), sessionPython);
  for (const name of ['python3', 'python']) {
    for (const dir of path.split(delimiter)) if (dir.startsWith('/')) candidates.push(join(dir, name));
  }
  return candidates.find(isExecutable) ?? null;
}

/** The shells' environment, with a virtualenv's bin first on PATH when the python is in one (for `!cmd`). */
function kernelEnv(env: Record<string, string>, python: string): Record<string, string> {
  const bin = dirname(python);
  const venv = dirname(bin);
  if (!existsSync(join(venv, 'pyvenv.cfg'))) return env;
  return { ...env, VIRTUAL_ENV: venv, PATH: `${bin}${delimiter}${env.PATH ?? ''}` };
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function isKey(code: string): boolean {
  return /^\s*C-[a-z]\s*$/i.test(code);
}

/** The output, then a note on a line of its own. */
function withNote(text: string, note: string): string {
  const body = text.trimEnd();
  return body ? `${body}\n${note}` : note;
}

function quote(code: string): string {
  return code.length <= QUOTE_CHARS ? code : `${code.slice(0, QUOTE_CHARS)}... (${code.length} characters in all)`;
}

function errorObservation(content: string, errorId: string): ErrorObservation {
  return { observation: 'error', content, extras: { error_id: errorId }, success: false };
}
