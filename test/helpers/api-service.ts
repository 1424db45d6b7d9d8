// A real runtime API service (`runtime-client api` from the built CLI) on a free port with a fresh
// state dir, for the tests of its clients; and the clean-up of every runtime it made.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LABELS } from '../../control/driver.js';
import { removeLabelled } from '../docker/engine.js';
import { HOST_CLI, collectLogs } from './server.js';

export interface ApiService {
  /** http://127.0.0.1:<port> */
  url: string;
  /** Its X-API-Key, or null for a service without one. */
  key: string | null;
  proc: ChildProcess;
  /** Every log line so far, parsed (raw text when not JSON). */
  logs: Record<string, unknown>[];
  /** Every runtime id it ever reported (GET /list now, and what it listed before). */
  runtimeIds(): Promise<string[]>;
  /**
   * Stops the service (SIGTERM; SIGKILL after 10 s), then removes every container carrying its
   * service label (warm ones too), of every runtime it listed and of each of `sessionIds`, and its
   * state dir.
   */
  close(sessionIds?: Iterable<string>): Promise<void>;
}

/** Starts `runtime-client api --port 0` with `args`; resolves once it listens. */
export async function startApiService(o: { key?: string | null; args?: string[] } = {}): Promise<ApiService> {
  const key = o.key === undefined ? `test-api-key-${process.pid}` : o.key;
  const stateDir = mkdtempSync(join(tmpdir(), 'rc-api-state-'));
  const env: Record<string, string> = { ...(process.env as Record<string, string>) };
  if (key) env.RUNTIME_API_KEY = key;
  else delete env.RUNTIME_API_KEY;
  const proc = spawn(process.execPath, [HOST_CLI, 'api', '--port', '0', '--state-dir', stateDir, '--log-level', 'info', ...(o.args ?? [])], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  proc.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let serviceId: string | undefined;
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`runtime-client api did not listen within 30 s: ${stderr}${JSON.stringify(logs)}`)), 30_000);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`runtime-client api exited with ${code} before listening: ${stderr}${JSON.stringify(logs)}`));
    });
    collectLogs(proc, logs, (entry) => {
      if (entry.msg === 'runtime API listening' && typeof entry.url === 'string') {
        if (typeof entry.service === 'string' && entry.service) serviceId = entry.service;
        clearTimeout(timer);
        resolve(entry.url);
      }
    });
  });
  const seen = new Set<string>();
  const runtimeIds = async () => {
    const res = await fetch(`${url}/list`, { headers: key ? { 'x-api-key': key } : {} }).catch(() => null);
    if (res?.ok) for (const r of ((await res.json()) as { runtimes: { runtime_id: string }[] }).runtimes) seen.add(r.runtime_id);
    return [...seen];
  };
  return {
    url,
    key,
    proc,
    logs,
    runtimeIds,
    async close(sessionIds = []) {
      const ids = await Promise.race([runtimeIds(), new Promise<string[]>((resolve) => setTimeout(() => resolve([...seen]), 5_000))]);
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((resolve) => proc.once('exit', resolve));
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      // Everything it made carries its service label, warm sandboxes too (a stopped service leaves them for its next start).
      if (serviceId) await removeLabelled(`${LABELS.service}=${serviceId}`);
      for (const id of ids) await removeLabelled(`${LABELS.runtimeId}=${id}`);
      for (const id of sessionIds) await removeLabelled(`${LABELS.sessionId}=${id}`);
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
