// A second RuntimeBackend for the tests: each runtime is the built server (dist/runtime-client.mjs)
// as a child process on a free port, paused with SIGSTOP. It shows that the interface holds without
// Docker, and lets the contract tests run where there is no engine. Its runtimes live as long as
// this process; attach() finds them only from here.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GuardedRuntimeClient } from '../../client/backends/guarded-client.js';
import type { AttachOptions, HandleState, RuntimeBackend, RuntimeHandle, RuntimeInfo, RuntimeRef, StartOptions, StopOptions } from '../../client/backends/backend.js';
import { RuntimeError } from '../../client/errors.js';
import { CLI, listenedOn } from '../helpers/server.js';

interface Runtime {
  info: RuntimeInfo;
  apiKey: string;
  proc: ChildProcess;
  dir: string;
}

export class ProcessBackend implements RuntimeBackend<StartOptions, ProcessHandle> {
  readonly #runtimes = new Map<string, Runtime>();

  constructor(readonly name: string) {}

  async start(o: StartOptions): Promise<ProcessHandle> {
    const startedAt = Date.now();
    const progress = (phase: string, message: string) => o.onProgress?.({ phase, message, elapsedMs: Date.now() - startedAt });
    const sessionId = o.sessionId ?? randomBytes(6).toString('hex');
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(sessionId)) throw new TypeError(`sessionId must be 1-63 characters of A-Z a-z 0-9 _ . - starting with a letter or digit, got ${JSON.stringify(sessionId)}`);
    if ([...this.#runtimes.values()].some((r) => r.info.sessionId === sessionId)) throw new RuntimeError('unavailable', `session ${sessionId} is in use`);
    const apiKey = randomBytes(32).toString('hex');
    const dir = mkdtempSync(join(tmpdir(), 'rc-process-backend-'));
    progress('spawn', `starting the server in ${dir}`);
    const proc = spawn(process.execPath, [CLI, '--port', '0', '--host', '127.0.0.1', '--working-dir', dir], {
      env: { ...process.env, ...o.env, HOME: dir, SESSION_API_KEY: apiKey },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const port = await listenedOn(proc, []);
    const info: RuntimeInfo = { backend: this.name, id: String(proc.pid), sessionId, name: `process-${sessionId}`, state: 'running', image: null, createdAt: new Date(startedAt).toISOString(), url: `http://127.0.0.1:${port}` };
    const runtime = { info, apiKey, proc, dir };
    this.#runtimes.set(info.id, runtime);
    proc.once('exit', () => {
      this.#runtimes.delete(info.id);
      rmSync(dir, { recursive: true, force: true });
    });
    const handle = new ProcessHandle(this, runtime, o.client);
    progress('wait', `waiting for ${info.url}/alive`);
    try {
      await handle.client.waitUntilAlive({ timeoutMs: o.startupTimeoutMs ?? 60_000 });
    } catch (e) {
      await handle.stop();
      throw e;
    }
    progress('ready', `${info.name} is ready at ${info.url}`);
    return handle;
  }

  async attach(ref: string, o: AttachOptions = {}): Promise<ProcessHandle> {
    const runtime = this.#find(ref);
    const handle = new ProcessHandle(this, runtime, o.client, runtime.info.state === 'paused' ? 'paused' : 'running');
    if (handle.state === 'running') await handle.client.waitUntilAlive({ timeoutMs: o.startupTimeoutMs ?? 5000 });
    return handle;
  }

  async list(): Promise<RuntimeInfo[]> {
    return [...this.#runtimes.values()].map((r) => ({ ...r.info }));
  }

  async info(ref: RuntimeRef): Promise<RuntimeInfo> {
    return { ...this.#find(ref).info };
  }

  async pause(ref: RuntimeRef): Promise<void> {
    if (ref instanceof ProcessHandle) return ref.pause();
    this.signal(this.#find(ref).info.id, 'SIGSTOP');
  }

  async resume(ref: RuntimeRef): Promise<void> {
    if (ref instanceof ProcessHandle) return ref.resume();
    this.signal(this.#find(ref).info.id, 'SIGCONT');
  }

  async stop(ref: RuntimeRef, _o?: StopOptions): Promise<void> {
    if (ref instanceof ProcessHandle) return ref.stop();
    await this.kill(this.#find(ref).info.id);
  }

  /** SIGSTOP or SIGCONT, with the state recorded. */
  signal(id: string, signal: 'SIGSTOP' | 'SIGCONT'): void {
    const runtime = this.#runtimes.get(id);
    if (!runtime) return;
    runtime.proc.kill(signal);
    runtime.info.state = signal === 'SIGSTOP' ? 'paused' : 'running';
  }

  /** SIGTERM (after SIGCONT: a stopped process cannot act on it); resolves once it exited. A process already gone is not an error. */
  async kill(id: string): Promise<void> {
    const runtime = this.#runtimes.get(id);
    if (!runtime) return;
    runtime.info.state = 'stopping';
    const exited = new Promise((resolve) => runtime.proc.once('exit', resolve));
    runtime.proc.kill('SIGCONT');
    runtime.proc.kill('SIGTERM');
    await exited;
  }

  #find(ref: RuntimeRef): Runtime {
    const key = typeof ref === 'string' ? ref : ref.id;
    const runtime = this.#runtimes.get(key) ?? [...this.#runtimes.values()].find((r) => r.info.sessionId === key);
    if (!runtime) throw new RuntimeError('not_found', `no runtime ${key}`, { backend: this.name, ref: key });
    return runtime;
  }
}

export class ProcessHandle implements RuntimeHandle {
  readonly backend: string;
  readonly id: string;
  readonly sessionId: string;
  readonly url: string;
  readonly apiKey: string;
  readonly client: GuardedRuntimeClient;
  #state: HandleState;

  constructor(
    readonly owner: ProcessBackend,
    readonly runtime: Runtime,
    tuning: StartOptions['client'],
    state: HandleState = 'running',
  ) {
    this.backend = owner.name;
    this.id = runtime.info.id;
    this.sessionId = runtime.info.sessionId;
    this.url = runtime.info.url!;
    this.apiKey = runtime.apiKey;
    this.#state = state;
    this.client = new GuardedRuntimeClient({ ...tuning, url: this.url, apiKey: this.apiKey }, {
      blocked: () => (this.#state === 'paused' ? new RuntimeError('paused', `runtime ${this.sessionId} is paused`) : this.#state === 'closed' ? new RuntimeError('unavailable', `runtime ${this.sessionId} is closed`) : null),
      explain: async (error) => error,
    });
  }

  get state(): HandleState {
    return this.#state;
  }

  get info(): RuntimeInfo {
    return { ...this.runtime.info, state: this.#state === 'closed' ? 'stopped' : this.#state };
  }

  async pause(): Promise<void> {
    this.#state = 'paused';
    this.owner.signal(this.id, 'SIGSTOP');
  }

  async resume(): Promise<void> {
    this.owner.signal(this.id, 'SIGCONT');
    this.#state = 'running';
  }

  async stop(): Promise<void> {
    if (this.#state !== 'closed') await this.client.close();
    this.#state = 'closed';
    await this.owner.kill(this.id);
  }
}
