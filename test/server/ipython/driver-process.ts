// The cell driver (server/ipython/driver.py) spawned directly and spoken to as the server does:
// hello and ready on fd 3, cells, the end mark on fd 1, done on fd 3, SIGINT to its pid.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:net';

export const DRIVER = join(import.meta.dirname, '..', '..', '..', 'server', 'ipython', 'driver.py');

export interface Ready {
  op: 'ready';
  pid: number;
  python: string;
  version: string;
  ipython: boolean;
}

export interface CellResult {
  /** The cell's output bytes, up to (not including) its end mark. */
  output: Buffer;
  text: string;
  error: string | null;
  images: string[];
  /** When each piece of output arrived, in ms since the cell was sent. */
  arrivals: { ms: number; bytes: Buffer }[];
  durationMs: number;
}

interface Pending {
  id: number;
  mark: Buffer;
  sentAt: number;
  chunks: Buffer[];
  arrivals: { ms: number; bytes: Buffer }[];
  markAt: number;
  done: { images: string[]; error: string | null } | null;
  resolve: (result: CellResult) => void;
  reject: (error: Error) => void;
}

export class DriverProcess {
  readonly child: ChildProcess;
  readonly nonce = randomBytes(16).toString('hex');
  /** Bytes that arrived on fd 1 while no cell ran: the driver must print none of its own. */
  stray: Buffer[] = [];
  /** Control messages other than ready and done. */
  others: Record<string, unknown>[] = [];
  stderr = '';
  private readonly control: Socket;
  private controlText = '';
  private nextId = 1;
  private pending: Pending | null = null;
  private readyWaiter: { resolve: (r: Ready) => void; reject: (e: Error) => void } | null = null;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(python: string, env: Record<string, string | undefined>, cwd: string | undefined, hello: string | null) {
    this.child = spawn(python, [DRIVER], { stdio: ['ignore', 'pipe', 'pipe', 'pipe'], env, cwd });
    this.control = this.child.stdio[3] as Socket;
    this.control.on('error', () => {});
    this.control.setEncoding('utf8');
    this.control.on('data', (text: string) => this.onControl(text));
    this.child.stdout!.on('data', (chunk: Buffer) => this.onOutput(chunk));
    this.child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString('utf8')));
    this.exited = new Promise((resolve) => {
      this.child.on('close', (code, signal) => {
        const why = new Error(`the driver ended (${signal ?? code}): ${this.stderr.trim()}`);
        this.readyWaiter?.reject(why);
        this.pending?.reject(why);
        resolve({ code, signal });
      });
    });
    this.control.write((hello ?? JSON.stringify({ op: 'hello', nonce: this.nonce })) + '\n');
  }

  /** Starts a driver and waits for `ready`. */
  static async start(python: string, opts: { env?: Record<string, string | undefined>; cwd?: string } = {}): Promise<{ driver: DriverProcess; ready: Ready }> {
    const driver = new DriverProcess(python, opts.env ?? quietEnv(), opts.cwd, null);
    const ready = await new Promise<Ready>((resolve, reject) => (driver.readyWaiter = { resolve, reject }));
    return { driver, ready };
  }

  /** Starts a driver with a first control line of your own (not waiting for anything). */
  static withHello(python: string, hello: string): DriverProcess {
    return new DriverProcess(python, quietEnv(), undefined, hello);
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Runs a cell; resolves once both its end mark and its `done` have arrived. */
  run(code: string, opts: { cwd?: string | null; timeoutMs?: number } = {}): Promise<CellResult> {
    if (this.pending) throw new Error('a cell is already running');
    const id = this.nextId++;
    const mark = Buffer.from(`\x1b]6974;${this.nonce};${id}\x07`);
    const timeoutMs = opts.timeoutMs ?? 30_000;
    return new Promise<CellResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        const seen = Buffer.concat(this.pending?.chunks ?? []).toString('utf8').slice(-500);
        this.pending = null;
        reject(new Error(`cell ${id} did not finish in ${timeoutMs} ms; output so far: ${JSON.stringify(seen)}`));
      }, timeoutMs);
      this.pending = {
        id,
        mark,
        sentAt: performance.now(),
        chunks: [],
        arrivals: [],
        markAt: -1,
        done: null,
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.control.write(JSON.stringify({ op: 'cell', id, code, cwd: opts.cwd ?? null }) + '\n');
    });
  }

  /** Resolves when the running cell's output contains `text` (to interrupt a cell that has started). */
  async waitForOutput(text: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.pending && Buffer.concat(this.pending.chunks).includes(text)) return;
      await sleep(10);
    }
    throw new Error(`no ${JSON.stringify(text)} in the cell's output within ${timeoutMs} ms`);
  }

  sigint(): void {
    process.kill(this.pid, 'SIGINT');
  }

  /** Closes the control socket, as a server that went away would. */
  closeControl(): void {
    this.control.end();
    this.control.destroy();
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }

  private onOutput(chunk: Buffer): void {
    const p = this.pending;
    if (!p || p.markAt >= 0) {
      this.stray.push(chunk);
      return;
    }
    p.arrivals.push({ ms: performance.now() - p.sentAt, bytes: chunk });
    p.chunks.push(chunk);
    // The mark may straddle chunks: look in this chunk, and across its start (a 10 MB cell
    // arrives in many chunks; nothing here may copy them all).
    let found: { chunk: number; at: number } | null = null;
    const at = chunk.indexOf(p.mark);
    if (at !== -1) found = { chunk: p.chunks.length - 1, at };
    else if (p.chunks.length > 1) {
      const before = p.chunks[p.chunks.length - 2];
      const keep = Math.min(before.length, p.mark.length - 1);
      const seam = Buffer.concat([before.subarray(before.length - keep), chunk.subarray(0, p.mark.length - 1)]);
      const s = seam.indexOf(p.mark);
      if (s !== -1) found = { chunk: p.chunks.length - 2, at: before.length - keep + s };
    }
    if (!found) return;
    const all = Buffer.concat(p.chunks);
    const offset = p.chunks.slice(0, found.chunk).reduce((n, c) => n + c.length, 0) + found.at;
    p.chunks = [all.subarray(0, offset)];
    p.markAt = performance.now() - p.sentAt;
    const after = all.subarray(offset + p.mark.length);
    if (after.length) this.stray.push(after);
    this.settle();
  }

  private onControl(text: string): void {
    this.controlText += text;
    for (let nl = this.controlText.indexOf('\n'); nl !== -1; nl = this.controlText.indexOf('\n')) {
      const message = JSON.parse(this.controlText.slice(0, nl)) as Record<string, any>;
      this.controlText = this.controlText.slice(nl + 1);
      if (message.op === 'ready') this.readyWaiter?.resolve(message as Ready);
      else if (message.op === 'done' && this.pending && message.id === this.pending.id) {
        this.pending.done = { images: message.images, error: message.error };
        this.settle();
      } else this.others.push(message);
    }
  }

  private settle(): void {
    const p = this.pending;
    if (!p || !p.done || p.markAt < 0) return;
    this.pending = null;
    const durationMs = performance.now() - p.sentAt;
    const output = Buffer.concat(p.chunks);
    p.resolve({
      output,
      get text() {
        return output.toString('utf8');
      },
      error: p.done.error,
      images: p.done.images,
      arrivals: p.arrivals,
      durationMs,
    });
  }
}

/** The environment without PYTHONUNBUFFERED (set on this machine), which would make bare python slow. */
export function quietEnv(extra: Record<string, string> = {}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env, ...extra };
  delete env.PYTHONUNBUFFERED;
  return env;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Whether `python -c code` exits 0. */
export function pythonCan(python: string, code: string, env?: Record<string, string | undefined>): boolean {
  return spawnSync(python, ['-c', code], { stdio: 'ignore', env }).status === 0;
}

/**
 * A virtualenv made once from `python` with `packages` installed, cached outside the clone
 * ($HOME/.cache/runtime-client/<name>). Returns its python, or throws why it could not be made.
 */
export function cachedVenv(python: string, name: string, packages: string[], probe: string): string {
  const root = join(homedir(), '.cache', 'runtime-client');
  const venv = join(root, name);
  const venvPython = join(venv, 'bin', 'python');
  if (existsSync(venvPython) && pythonCan(venvPython, probe)) return venvPython;
  mkdirSync(root, { recursive: true });
  const building = `${venv}.building-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  const steps: [string, string[]][] = [
    [python, ['-m', 'venv', building]],
    [join(building, 'bin', 'python'), ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', ...packages]],
  ];
  for (const [file, args] of steps) {
    const r = spawnSync(file, args, { encoding: 'utf8', timeout: 600_000 });
    if (r.status !== 0) {
      rmSync(building, { recursive: true, force: true });
      throw new Error(`${file} ${args.join(' ')} failed: ${(r.stderr || r.error?.message || '').slice(-2000)}`);
    }
  }
  rmSync(venv, { recursive: true, force: true });
  renameSync(building, venv);
  return venvPython;
}

/** A virtualenv with matplotlib (no IPython in it), from `python`. */
export function matplotlibVenv(python: string): string {
  const version = spawnSync(python, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], { encoding: 'utf8' }).stdout.trim();
  return cachedVenv(python, `ipython-mpl-${version}`, ['matplotlib'], 'import matplotlib');
}
