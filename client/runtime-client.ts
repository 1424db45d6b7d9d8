// The host-side client of one runtime-client server: health, actions over HTTP with retries that
// never run an action twice, commands as results, and streamed actions over one shared WebSocket.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Observation, SessionInfo, SessionList } from '@runtime-client/protocol';
import { RuntimeError } from './errors.js';
import { isTransient, StatusError, toRuntimeError } from './failures.js';
import { HttpTransport, TransportError, type HttpRequest, type HttpResponse } from './http.js';
import { resolveOptions, type ResolvedOptions } from './options.js';
import { toCellResult, toCommandResult } from './results.js';
import { withRetries } from './retry.js';
import { ActionStream } from './stream.js';
import { StreamSocket } from './stream-socket.js';
import { actionWait } from './timeouts.js';
import { downloadPath, uploadPath, type DownloadOptions, type UploadOptions, type UploadResult } from './files.js';
import type {
  ActionInput,
  CommandResult,
  ExecuteOptions,
  RunOptions,
  IpythonOptions,
  CellResult,
  RuntimeClientOptions,
  ServerInfo,
  StreamHandle,
  StreamOptions,
  WaitOptions,
} from './types.js';

/**
 * A client of one server. Options (see RuntimeClientOptions): `url` (required), `apiKey`,
 * `timeoutMs` 10000 (calls that are not actions), `retries` 5, `backoffMs` 100, `maxBackoffMs`
 * 5000, `timeoutMarginMs` 30000, `defaultActionTimeoutMs` 120000. Invalid options throw a
 * TypeError naming the option.
 *
 * Retries: a dropped or refused connection and 502/503/504 are retried with exponential backoff
 * and jitter, always with the same action id, so the server replays a result instead of running
 * the action again. 401 fails at once with 'unauthorized', other 4xx with 'bad_action'.
 *
 * Streams share one WebSocket per client, opened on first use and reopened while a stream is
 * unfinished; while no stream runs it does not keep the process alive. Call close() when done.
 */
export class RuntimeClient {
  /** The server's base URL, as given. */
  readonly url: string;
  readonly #options: ResolvedOptions;
  readonly #http: HttpTransport;
  readonly #socket: StreamSocket;
  readonly #closing = new AbortController();

  constructor(options: RuntimeClientOptions) {
    this.#options = resolveOptions(options);
    this.url = options.url;
    const headers: Record<string, string> = options.apiKey ? { 'x-session-api-key': options.apiKey } : {};
    const base = this.#options.url;
    this.#http = new HttpTransport(base, headers);
    const ws = new URL('ws', base.href.endsWith('/') ? base : new URL(base.href + '/'));
    ws.protocol = base.protocol === 'https:' ? 'wss:' : 'ws:';
    this.#socket = new StreamSocket(ws.href, headers, this.#options, this.#closing.signal);
  }

  /** True iff GET /alive answers 200 within `timeoutMs`. One attempt, never throws. */
  async alive(): Promise<boolean> {
    if (this.#closing.signal.aborted) return false;
    try {
      return (await this.#http.request({ method: 'GET', path: '/alive', timeoutMs: this.#options.timeoutMs })).status === 200;
    } catch {
      return false;
    }
  }

  /**
   * Probes /alive every `intervalMs` (default 100) until it answers 200; after `timeoutMs`
   * (default 30000) rejects with RuntimeError 'not_ready' (data: the last status or error).
   */
  async waitUntilAlive(options: WaitOptions = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? 30_000;
    const intervalMs = options.intervalMs ?? 100;
    const deadline = Date.now() + timeoutMs;
    let last: unknown = null;
    for (;;) {
      this.#ensureOpen();
      const remaining = deadline - Date.now();
      // A late timer can leave no time for another probe; the last answer is the better report.
      if (remaining <= 0 && last !== null) break;
      const probeMs = Math.max(1, Math.min(this.#options.timeoutMs, remaining));
      try {
        const res = await this.#http.request({ method: 'GET', path: '/alive', timeoutMs: probeMs });
        if (res.status === 200) return;
        last = { status: res.status, body: res.body };
      } catch (error) {
        // A probe cut short by our own deadline says nothing new about the server: keep the
        // answer it gave before, if any.
        const cutByDeadline = error instanceof TransportError && error.sysCode === 'ETIMEOUT' && probeMs < this.#options.timeoutMs;
        if (!(cutByDeadline && last !== null)) last = { error: (error as Error).message };
      }
      if (Date.now() + intervalMs >= deadline) break;
      await sleep(intervalMs, undefined, { signal: this.#closing.signal }).catch(() => {});
    }
    throw new RuntimeError('not_ready', `${this.url} did not answer /alive with 200 within ${timeoutMs} ms`, last);
  }

  /** GET /server_info: version, uptime, sessions, resources. Retried like every call. */
  async serverInfo(): Promise<ServerInfo> {
    const res = await this.#call({ method: 'GET', path: '/server_info', timeoutMs: this.#options.timeoutMs }, 'GET /server_info');
    return res.body as ServerInfo;
  }

  /**
   * POST /execute_action with `{action, id}`; resolves with the observation, whatever its exit
   * code. The id (default a random UUID) is the same on every retry. The client waits the
   * action's own timeout plus `timeoutMarginMs` (see ExecuteOptions.timeoutMs), then rejects with
   * 'timeout'; the action may still be running, and executing it again with the same id waits
   * for its result without running it twice.
   */
  async execute(action: ActionInput, options: ExecuteOptions = {}): Promise<Observation> {
    const id = options.id ?? randomUUID();
    const wait = actionWait(action, options.timeoutMs, this.#policy());
    const what = `action ${id}`;
    const res = await this.#call({ method: 'POST', path: '/execute_action', body: { action, id }, timeoutMs: wait.totalMs }, what);
    if (!Observation.safeParse(res.body).success) {
      throw new RuntimeError('unavailable', `${what}: the server answered ${res.status} with something that is not an observation`, res.body);
    }
    return res.body as Observation;
  }

  /**
   * Runs `command` in a bash session and resolves with a CommandResult: a non-zero exit code is
   * data, `timedOut` means the command still runs (soft or hard timeout). An error observation
   * (e.g. a refused command) rejects with RuntimeError 'bad_action', the observation as data.
   */
  async run(command: string, options: RunOptions = {}): Promise<CommandResult> {
    const started = performance.now();
    const args: Record<string, unknown> = { command };
    if (options.session !== undefined) args.session = options.session;
    if (options.blocking !== undefined) args.blocking = options.blocking;
    const action: ActionInput = { action: 'run', args, ...(options.timeoutSeconds !== undefined ? { timeout: options.timeoutSeconds } : {}) };
    const observation = await this.execute(action, { id: options.id });
    return toCommandResult(observation, Math.round(performance.now() - started));
  }

  /**
   * Runs a Python cell in the session's interpreter (started on first use from the image's
   * python3) and resolves with a CellResult: a traceback is data (`exception`), `timedOut` means
   * the cell still runs. An error observation (no Python in the image, a refused cell) rejects
   * with RuntimeError 'bad_action', the observation as data.
   */
  async ipython(code: string, options: IpythonOptions = {}): Promise<CellResult> {
    const started = performance.now();
    const args: Record<string, unknown> = { code, include_extra: options.includeExtra ?? false };
    if (options.session !== undefined) args.session = options.session;
    if (options.blocking !== undefined) args.blocking = options.blocking;
    const action: ActionInput = { action: 'run_ipython', args, ...(options.timeoutSeconds !== undefined ? { timeout: options.timeoutSeconds } : {}) };
    const observation = await this.execute(action, { id: options.id });
    return toCellResult(observation, Math.round(performance.now() - started));
  }

  /**
   * Streams an action over the client's WebSocket: iterate the handle for raw output chunks,
   * await `handle.observation` for the result. If the socket drops, the client reconnects with
   * backoff and attaches from the next chunk, so no chunk is lost or repeated; chunks the server
   * no longer holds are reported (StreamOptions.onGap, else the iterator throws 'disconnected').
   * The wait is the same as execute()'s, counted from the last frame when no timeout was set.
   */
  stream(action: ActionInput, options: StreamOptions = {}): StreamHandle {
    this.#ensureOpen();
    const id = options.id ?? randomUUID();
    const wait = actionWait(action, options.timeoutMs, this.#policy());
    const stream = new ActionStream(id, action, wait, options, {
      socket: this.#socket,
      input: (text, session) => this.execute({ action: 'run', args: { command: text, is_input: true, session } }),
    });
    this.#socket.add(stream);
    return stream;
  }

  /**
   * Uploads the local file or directory `localPath` into the server directory `destination`
   * (absolute; created if missing). A directory's contents are streamed as an archive (tar by
   * default, modes, times and symlinks kept) and unpacked there, replacing names that exist; a
   * file lands as destination/<its name>. Nothing is held in memory and nothing half-written is
   * left on the server on a failure. Not retried: the body is a stream.
   */
  async upload(localPath: string, destination: string, options: UploadOptions = {}): Promise<UploadResult> {
    this.#ensureOpen();
    return uploadPath(this.#http, this.url, localPath, destination, options);
  }

  /**
   * Downloads the server file or directory `remotePath` into the local directory `localDir`
   * (created if missing): a directory's contents land in `localDir`, a file as
   * localDir/<its name>. Unpacked with the server's zip-slip and symlink checks, through a staging
   * directory, so a failure leaves nothing behind. Resolves with the top-level paths written.
   */
  async download(remotePath: string, localDir: string, options: DownloadOptions = {}): Promise<string[]> {
    this.#ensureOpen();
    return downloadPath(this.#http, this.url, remotePath, localDir, options);
  }

  /** POST /list_files: directories first (trailing '/'), then files; `path` defaults to the default session's cwd. */
  async listFiles(path?: string): Promise<string[]> {
    const res = await this.#call({ method: 'POST', path: '/list_files', body: path === undefined ? {} : { path }, timeoutMs: this.#options.timeoutMs }, 'POST /list_files');
    return res.body as string[];
  }

  /** GET /sessions: every named bash session (its state, cwd, idle seconds). */
  async sessions(): Promise<SessionInfo[]> {
    const res = await this.#call({ method: 'GET', path: '/sessions', timeoutMs: this.#options.timeoutMs }, 'GET /sessions');
    return SessionList.parse(res.body).sessions;
  }

  /**
   * DELETE /sessions/{name}: ends the session and every process it started (setsid'd ones too);
   * an action waiting on it completes. Resolves false when there was no such session.
   */
  async endSession(name: string): Promise<boolean> {
    const what = `DELETE /sessions/${name}`;
    try {
      await this.#call({ method: 'DELETE', path: `/sessions/${encodeURIComponent(name)}`, timeoutMs: this.#options.timeoutMs }, what);
      return true;
    } catch (e) {
      if (e instanceof RuntimeError && (e.data as { error?: { code?: string } } | undefined)?.error?.code === 'not_found') return false;
      throw e;
    }
  }

  /** POST /sessions/{name}/reset: ends the session (if any) and starts a fresh one; resolves when it is ready. */
  async resetSession(name: string): Promise<SessionInfo> {
    const res = await this.#call({ method: 'POST', path: `/sessions/${encodeURIComponent(name)}/reset`, timeoutMs: this.#options.timeoutMs }, `POST /sessions/${name}/reset`);
    return SessionInfo.parse(res.body);
  }

  /** Fails calls in flight and later ones with 'unavailable' and releases every socket. */
  async close(): Promise<void> {
    if (this.#closing.signal.aborted) return;
    this.#closing.abort();
    this.#http.close();
    await this.#socket.close();
  }

  #policy() {
    return { marginMs: this.#options.timeoutMarginMs, defaultActionTimeoutMs: this.#options.defaultActionTimeoutMs };
  }

  #ensureOpen(): void {
    if (this.#closing.signal.aborted) throw new RuntimeError('unavailable', 'the client was closed');
  }

  /** One HTTP call with retries, all within `req.timeoutMs` (null: no limit); any failure as a RuntimeError. */
  async #call(req: HttpRequest, what: string): Promise<HttpResponse> {
    this.#ensureOpen();
    const deadline = req.timeoutMs === null ? null : Date.now() + req.timeoutMs;
    try {
      return await withRetries(
        async () => {
          if (this.#closing.signal.aborted) throw new TransportError('ECLOSED', 'the client was closed');
          const remaining = deadline === null ? null : deadline - Date.now();
          if (remaining !== null && remaining <= 0) throw new TransportError('ETIMEOUT', `no answer within ${req.timeoutMs} ms`);
          const res = await this.#http.request({ ...req, timeoutMs: remaining });
          if (res.status >= 400) throw new StatusError(res);
          return res;
        },
        this.#options,
        { transient: isTransient, deadline, signal: this.#closing.signal },
      );
    } catch (error) {
      if (error instanceof TransportError && error.timedOut) {
        const id = (req.body as { id?: string } | undefined)?.id;
        const hint = id
          ? ` (its timeout plus the ${this.#options.timeoutMarginMs} ms margin); it may still be running: execute it again with the same id to wait for its result`
          : '';
        throw new RuntimeError('timeout', `${what}: no answer within ${req.timeoutMs} ms${hint}`, { timeoutMs: req.timeoutMs, ...(id ? { id } : {}) });
      }
      throw toRuntimeError(error, what, this.url);
    }
  }
}
