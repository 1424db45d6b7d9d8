// A real runtime-client process on a free port, started from the built CLI, for tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';

/** The sandbox server as built (serve and probe). */
export const CLI = join(import.meta.dirname, '..', '..', 'dist', 'runtime-client.mjs');
/** The host CLI as built (run, exec, ps, stop, dockerfile, build, docker-args; serve handed to the server). */
export const HOST_CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli.mjs');
export const KEY = 'test-key-1234';

export interface TestServer {
  url: string;
  port: number;
  proc: ChildProcess;
  /** Every log line so far, parsed. */
  logs: Record<string, unknown>[];
  /** POSTs an action; returns status and parsed body. */
  execute(action: unknown, opts?: { id?: string; key?: string | null }): Promise<{ status: number; body: any }>;
  /** Runs a command in a session and returns the observation. */
  run(command: string, args?: Record<string, unknown>, timeout?: number): Promise<any>;
  ws(opts?: { key?: string | null }): Promise<WsClient>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface StartOptions {
  env?: Record<string, string>;
  args?: string[];
  key?: string | null;
  /** Return once listening, before /alive answers 200. */
  skipWait?: boolean;
}

export async function startServer(opts: StartOptions = {}): Promise<TestServer> {
  const home = mkdtempSync(join(tmpdir(), 'rc-home-'));
  const workDir = mkdtempSync(join(tmpdir(), 'rc-work-'));
  const key = opts.key === undefined ? KEY : opts.key;
  const env: Record<string, string> = { ...(process.env as Record<string, string>), HOME: home, ...opts.env };
  if (key) env.SESSION_API_KEY = key;
  else delete env.SESSION_API_KEY;
  const proc = spawn(process.execPath, [CLI, '--port', '0', '--host', '127.0.0.1', '--working-dir', workDir, ...(opts.args ?? [])], {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const logs: Record<string, unknown>[] = [];
  const port = await listenedOn(proc, logs);
  const url = `http://127.0.0.1:${port}`;
  const headers = (k: string | null | undefined) => ({
    'content-type': 'application/json',
    ...(k ? { 'x-session-api-key': k } : {}),
  });
  const server: TestServer = {
    url,
    port,
    proc,
    logs,
    async execute(action, o = {}) {
      const res = await fetch(`${url}/execute_action`, {
        method: 'POST',
        headers: headers(o.key === undefined ? key : o.key),
        body: JSON.stringify({ action, ...(o.id ? { id: o.id } : {}) }),
      });
      return { status: res.status, body: await res.json() };
    },
    async run(command, args = {}, timeout) {
      const { status, body } = await server.execute({ action: 'run', args: { command, ...args }, ...(timeout ? { timeout } : {}) });
      if (status !== 200) throw new Error(`HTTP ${status}: ${JSON.stringify(body)}`);
      return body;
    },
    ws: (o = {}) => connectWs(`ws://127.0.0.1:${port}/ws`, o.key === undefined ? key : o.key),
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode !== null) return proc.exitCode;
      const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
      proc.kill(signal);
      return exited;
    },
  };
  if (!opts.skipWait) await waitAlive(url);
  return server;
}

/**
 * Collects a server process's JSON log lines from its stdout into `logs` (now and later) and
 * resolves with the port of its `listening` line; rejects if it exits first.
 */
export function listenedOn(proc: ChildProcess, logs: Record<string, any>[]): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`server exited with ${code} before listening: ${JSON.stringify(logs)}`)));
    collectLogs(proc, logs, (entry) => {
      if (entry.msg === 'listening') resolve(entry.port);
    });
  });
}

/** Keeps each line `proc` writes on stdout in `logs`, parsed as JSON (`{raw}` when it is not), and hands it to `onEntry`. */
export function collectLogs(proc: ChildProcess, logs: Record<string, any>[], onEntry: (entry: Record<string, any>) => void = () => {}): void {
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    let entry: Record<string, any>;
    try {
      entry = JSON.parse(line);
    } catch {
      entry = { raw: line };
    }
    logs.push(entry);
    onEntry(entry);
  });
}

/** Resolves once `url`/alive answers 200 (20 s at most). */
export async function waitAlive(url: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const res = await fetch(`${url}/alive`).catch(() => null);
    if (res?.status === 200) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('server never became alive');
}

export interface WsClient {
  socket: WebSocket;
  frames: any[];
  send(frame: unknown): void;
  /** Resolves with the first frame (already received or future) matching `pred`. */
  waitFor(pred: (frame: any) => boolean, timeoutMs?: number): Promise<any>;
  close(): Promise<void>;
}

export async function connectWs(url: string, key: string | null): Promise<WsClient> {
  const socket = new WebSocket(url, { headers: key ? { 'x-session-api-key': key } : {} });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  const frames: any[] = [];
  const waiters: { pred: (f: any) => boolean; resolve: (f: any) => void }[] = [];
  socket.on('message', (data) => {
    const frame = JSON.parse(data.toString());
    frames.push(frame);
    for (const w of [...waiters]) {
      if (w.pred(frame)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(frame);
      }
    }
  });
  return {
    socket,
    frames,
    send: (frame) => socket.send(JSON.stringify(frame)),
    waitFor(pred, timeoutMs = 30_000) {
      const found = frames.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('timed out waiting for a frame')), timeoutMs);
        waiters.push({ pred, resolve: (f) => (clearTimeout(timer), resolve(f)) });
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (socket.readyState === WebSocket.CLOSED) return resolve();
        socket.once('close', () => resolve());
        socket.close();
      }),
  };
}

/** The command's output plus what an agent is shown around it. */
export const exitCodeOf = (obs: any): number => obs.extras.metadata.exit_code;
