// A real Driver for the lifecycle tests (test code, not product): each sandbox is a runtime-client
// process (dist/runtime-client.mjs on 127.0.0.1, port 0) in its own process group. Pause is SIGSTOP
// of the group, resume SIGCONT. What the driver knows of a sandbox (labels, pid, url, exit) is a
// JSON file per sandbox in `dir`, so that another process (a restarted service) finds them again;
// each process carries RC_PROCESS_SANDBOX=<id> in its environment, so one spawned just before its
// parent was killed is found too (a sandbox can never be made and lost).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DriverError, type Driver, type DriverEvent, type ImageInfo, type SandboxSpec, type SandboxState } from '../../control/driver.js';

const BIN = join(import.meta.dirname, '..', '..', 'dist', 'runtime-client.mjs');
const MARK = 'RC_PROCESS_SANDBOX';
const DIR_MARK = 'RC_PROCESS_DIR';

interface Entry {
  id: string;
  labels: Record<string, string>;
  pid: number | null;
  url: string | null;
  exitCode?: number;
}

export interface ProcessDriverOptions {
  /** Image names this driver "has" (any other is image_not_found). Default: ['process', 'stalls']. */
  images?: string[];
  /** Images whose server is stopped (SIGSTOP) as soon as it listens: a hung sandbox. Default: ['stalls']. */
  stalledImages?: string[];
}

export class ProcessDriver implements Driver {
  readonly name = 'process';
  private readonly children = new Map<string, ChildProcess>();
  private readonly watchers = new Set<{ labels: Record<string, string>; onEvent: (e: DriverEvent) => void }>();
  private readonly images: Set<string>;
  private readonly stalled: Set<string>;
  private readonly removing = new Set<string>();
  private poll: NodeJS.Timeout | undefined;
  private seenAlive = new Set<string>();

  constructor(
    readonly dir: string,
    options: ProcessDriverOptions = {},
  ) {
    mkdirSync(dir, { recursive: true });
    this.images = new Set(options.images ?? ['process', 'stalls']);
    this.stalled = new Set(options.stalledImages ?? ['stalls']);
  }

  async create(spec: SandboxSpec, signal?: AbortSignal): Promise<SandboxState> {
    if (!this.images.has(spec.image)) throw new DriverError('image_not_found', `image ${spec.image} not found`);
    const id = `p${randomBytes(8).toString('hex')}`;
    const work = join(this.dir, `${id}.work`);
    mkdirSync(work);
    this.write({ id, labels: spec.labels, pid: null, url: null });
    const log = openSync(join(this.dir, `${id}.log`), 'a');
    const child = spawn(process.execPath, [BIN, '--port', '0', '--host', '127.0.0.1', '--working-dir', spec.workingDir ?? work, '--log-level', 'info', ...(spec.awaitConfig ? ['--await-config'] : [])], {
      detached: true,
      stdio: ['ignore', log, log],
      // Its own HOME, as a container has: the host's ~/.bashrc (pyenv's rehash lock...) stays out of it.
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work, RUNTIME_CLIENT_STATE_DIR: join(work, '.state'), ...spec.env, SESSION_API_KEY: spec.apiKey, [MARK]: id, [DIR_MARK]: this.dir },
    });
    closeSync(log);
    this.children.set(id, child);
    child.on('exit', (code, sig) => {
      this.children.delete(id);
      const exitCode = code ?? 128 + (sig ? signalNumber(sig) : 0);
      const entry = this.read(id);
      if (entry && !this.removing.has(id)) this.write({ ...entry, exitCode });
      this.emit({ id, kind: 'die', exitCode, labels: spec.labels });
    });
    this.write({ id, labels: spec.labels, pid: child.pid!, url: null });
    try {
      const url = await this.waitListening(id, child, signal);
      if (this.stalled.has(spec.image)) kill(-child.pid!, 'SIGSTOP');
      this.write({ id, labels: spec.labels, pid: child.pid!, url });
      this.emit({ id, kind: 'start', labels: spec.labels });
      return (await this.inspect(id))!;
    } catch (e) {
      await this.remove(id);
      throw e instanceof DriverError ? e : new DriverError('engine', (e as Error).message);
    }
  }

  private async waitListening(id: string, child: ChildProcess, signal?: AbortSignal): Promise<string> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      signal?.throwIfAborted();
      const text = readFileSync(join(this.dir, `${id}.log`), 'utf8');
      const m = /"port":(\d+)[^\n]*"msg":"listening"/.exec(text);
      if (m) return `http://127.0.0.1:${m[1]}`;
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`runtime-client exited at start: ${text.slice(-500)}`);
      if (Date.now() > deadline) throw new Error('runtime-client did not listen within 30 s');
      await sleep(5);
    }
  }

  /** Resolves once the server is stopped (the signal's delivery is not immediate). */
  async pause(id: string): Promise<void> {
    const pid = this.signalGroup(id, 'SIGSTOP');
    while (alive(pid, id) && stateLetter(pid) !== 'T') await sleep(1);
  }

  async resume(id: string): Promise<void> {
    const pid = this.signalGroup(id, 'SIGCONT');
    while (alive(pid, id) && stateLetter(pid) === 'T') await sleep(1);
  }

  async remove(id: string): Promise<void> {
    const entry = this.read(id);
    const pid = entry?.pid ?? this.findPid(id);
    this.removing.add(id);
    try {
      if (pid !== null && alive(pid, id)) {
        kill(-pid, 'SIGCONT');
        kill(pid, 'SIGTERM');
        const deadline = Date.now() + 3000;
        while (alive(pid, id) && Date.now() < deadline) await sleep(10);
        if (alive(pid, id)) kill(-pid, 'SIGKILL');
        while (alive(pid, id)) await sleep(10);
      }
      rmSync(join(this.dir, `${id}.work`), { recursive: true, force: true });
      rmSync(join(this.dir, `${id}.log`), { force: true });
      rmSync(join(this.dir, `${id}.json`), { force: true });
      if (entry) this.emit({ id, kind: 'destroy', labels: entry.labels });
    } finally {
      this.removing.delete(id);
    }
  }

  async inspect(id: string): Promise<SandboxState | null> {
    const entry = this.read(id);
    return entry ? this.stateOf(entry) : null;
  }

  async list(labels: Record<string, string>): Promise<SandboxState[]> {
    const out: SandboxState[] = [];
    for (const name of readdirSync(this.dir)) {
      if (!name.endsWith('.json')) continue;
      const entry = this.read(name.slice(0, -5));
      if (entry && matches(entry.labels, labels)) out.push(this.stateOf(entry));
    }
    return out;
  }

  watch(labels: Record<string, string>, onEvent: (event: DriverEvent) => void): () => void {
    const watcher = { labels, onEvent };
    this.watchers.add(watcher);
    // Sandboxes made by another process (before a restart) are not our children: their deaths are polled.
    this.poll ??= setInterval(() => this.pollDeaths(), 200);
    return () => {
      this.watchers.delete(watcher);
      if (!this.watchers.size && this.poll) {
        clearInterval(this.poll);
        this.poll = undefined;
      }
    };
  }

  async image(image: string): Promise<ImageInfo> {
    return { exists: this.images.has(image) };
  }

  async runtimeClasses(): Promise<string[]> {
    return [];
  }

  async build(): Promise<string> {
    throw new DriverError('engine', 'the process driver does not build images');
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    if (this.poll) clearInterval(this.poll);
    this.poll = undefined;
    this.watchers.clear();
  }

  /** Every live runtime-client process made by a driver on this dir, by sandbox id (leak checks: files or not). */
  livePids(): Map<string, number> {
    const out = new Map<string, number>();
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const pid = Number(entry);
      const id = markOf(pid);
      if (id && dirMarkOf(pid) === this.dir && alive(pid, id)) out.set(id, pid);
    }
    return out;
  }

  /** Kills the sandbox's process behind the driver's back (the test of a container killed outside). */
  killBehindTheBack(id: string, signal: NodeJS.Signals = 'SIGKILL'): void {
    const pid = this.read(id)?.pid;
    if (pid) kill(pid, signal);
  }

  private pollDeaths(): void {
    const now = new Set<string>();
    for (const name of readdirSync(this.dir)) {
      if (!name.endsWith('.json')) continue;
      const entry = this.read(name.slice(0, -5));
      if (!entry || entry.pid === null) continue;
      if (alive(entry.pid, entry.id)) now.add(entry.id);
      else if (this.seenAlive.has(entry.id) && !this.children.has(entry.id) && !this.removing.has(entry.id)) {
        this.emit({ id: entry.id, kind: 'die', labels: entry.labels, ...(entry.exitCode !== undefined ? { exitCode: entry.exitCode } : {}) });
      }
    }
    this.seenAlive = now;
  }

  private stateOf(entry: Entry): SandboxState {
    const pid = entry.pid ?? this.findPid(entry.id);
    let status: SandboxState['status'] = 'exited';
    if (pid !== null && alive(pid, entry.id)) status = stateLetter(pid) === 'T' ? 'paused' : 'running';
    else if (pid === null) status = 'created';
    return {
      id: entry.id,
      labels: entry.labels,
      status,
      restartCount: 0,
      url: status === 'exited' ? null : entry.url,
      ...(entry.exitCode !== undefined ? { exitCode: entry.exitCode, oomKilled: false } : {}),
    };
  }

  /** The sandbox's process found by its mark (one spawned before its pid could be written down). */
  private findPid(id: string): number | null {
    for (const entry of readdirSync('/proc')) {
      if (/^\d+$/.test(entry) && markOf(Number(entry)) === id && alive(Number(entry), id)) return Number(entry);
    }
    return null;
  }

  private signalGroup(id: string, signal: NodeJS.Signals): number {
    const entry = this.read(id);
    if (!entry?.pid || !alive(entry.pid, id)) throw new DriverError('engine', `sandbox ${id} is not running`);
    kill(-entry.pid, signal);
    return entry.pid;
  }

  private emit(event: DriverEvent): void {
    for (const w of this.watchers) if (matches(event.labels, w.labels)) w.onEvent(event);
  }

  private read(id: string): Entry | undefined {
    try {
      return JSON.parse(readFileSync(join(this.dir, `${id}.json`), 'utf8')) as Entry;
    } catch {
      return undefined;
    }
  }

  /** Atomic: a reader never sees half a file. */
  private write(entry: Entry): void {
    const file = join(this.dir, `${entry.id}.json`);
    writeFileSync(`${file}.tmp`, JSON.stringify(entry));
    renameSync(`${file}.tmp`, file);
  }
}

function matches(have: Record<string, string>, want: Record<string, string>): boolean {
  return Object.entries(want).every(([k, v]) => have[k] === v);
}

function markOf(pid: number, name = MARK): string | undefined {
  try {
    const env = readFileSync(`/proc/${pid}/environ`, 'latin1');
    const m = new RegExp(`(?:^|\\0)${name}=([^\\0]+)`).exec(env);
    return m?.[1];
  } catch {
    return undefined;
  }
}

function dirMarkOf(pid: number): string | undefined {
  return markOf(pid, DIR_MARK);
}

function stateLetter(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}

/** Live (not a zombie) and still the sandbox's server (not a reused pid, nor one of its shells, which inherit the mark). */
function alive(pid: number, id: string): boolean {
  const s = stateLetter(pid);
  return s !== undefined && s !== 'Z' && s !== 'X' && markOf(pid) === id && isServer(pid);
}

function isServer(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes(BIN);
  } catch {
    return false;
  }
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // gone
  }
}

function signalNumber(sig: NodeJS.Signals): number {
  return ({ SIGKILL: 9, SIGTERM: 15, SIGINT: 2, SIGSEGV: 11, SIGABRT: 6 } as Record<string, number>)[sig] ?? 0;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
