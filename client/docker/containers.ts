// The Engine API calls a runtime needs, with failures turned into RuntimeError 'docker' (the
// engine's HTTP status kept in `data.status`).
import { EngineError, engine, engineRaw } from './engine.js';
import { RuntimeError } from '../errors.js';
import { CONTAINER_PORT, LABEL_SESSION } from './spec.js';

/** The parts of `GET /containers/{id}/json` a runtime reads. */
export interface ContainerInspect {
  Id: string;
  Name: string;
  /** ISO 8601 with nanoseconds. */
  Created: string;
  State: { Status: string; Running: boolean; Paused: boolean; ExitCode: number; Error?: string };
  Config: { Image: string; Env: string[] | null; Labels: Record<string, string> | null };
  HostConfig: { PortBindings?: Record<string, { HostIp: string; HostPort: string }[] | null> | null; NanoCpus?: number; Memory?: number };
  NetworkSettings: { Ports?: Record<string, { HostIp: string; HostPort: string }[] | null> | null };
}

/** One row of `GET /containers/json`. */
export interface ContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  /** Unix time, in seconds. */
  Created: number;
  State: string;
  Labels: Record<string, string> | null;
  Ports: { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }[];
}

/** engine(), failing with RuntimeError 'docker'. */
export async function call(method: string, path: string, body?: unknown): Promise<any> {
  try {
    return await engine(method, path, body);
  } catch (e) {
    throw new RuntimeError('docker', (e as Error).message, { status: e instanceof EngineError ? e.status : undefined });
  }
}

/** The engine's HTTP status of a failed call, when it answered. */
export const statusOf = (e: unknown): number | undefined =>
  e instanceof RuntimeError && e.code === 'docker' ? (e.data as { status?: number } | undefined)?.status : undefined;

export const inspect = (id: string): Promise<ContainerInspect> => call('GET', `/containers/${encodeURIComponent(id)}/json`);

/** Containers (running or not) carrying the session label, or the one with this session id. */
export function listRuntimeContainers(sessionId?: string): Promise<ContainerSummary[]> {
  const filters = JSON.stringify({ label: [sessionId === undefined ? LABEL_SESSION : `${LABEL_SESSION}=${sessionId}`] });
  return call('GET', `/containers/json?all=true&filters=${encodeURIComponent(filters)}`);
}

/** The host port bound to the server's port: the live binding, else the configured one. */
export function hostPortOf(c: ContainerInspect): number | null {
  const key = `${CONTAINER_PORT}/tcp`;
  const bindings = [...(c.NetworkSettings.Ports?.[key] ?? []), ...(c.HostConfig.PortBindings?.[key] ?? [])];
  const port = Number(bindings.find((b) => b.HostPort)?.HostPort);
  return Number.isInteger(port) && port > 0 ? port : null;
}

/** docker pause; a container already paused is not an error. */
export async function pauseContainer(id: string): Promise<void> {
  try {
    await call('POST', `/containers/${encodeURIComponent(id)}/pause`);
  } catch (e) {
    if (!/already paused/i.test((e as Error).message)) throw e;
  }
}

/** docker unpause; a container that is not paused is not an error. */
export async function unpauseContainer(id: string): Promise<void> {
  try {
    await call('POST', `/containers/${encodeURIComponent(id)}/unpause`);
  } catch (e) {
    if (!/not paused/i.test((e as Error).message)) throw e;
  }
}

/**
 * Stops a container (unpausing it first: a paused one cannot take SIGTERM) with 10 s before
 * SIGKILL, and removes it with its anonymous volumes unless `remove` is false. A container already
 * gone is not an error.
 */
export async function stopContainer(id: string, remove: boolean): Promise<void> {
  try {
    const c = await inspect(id);
    if (c.State.Paused) await call('POST', `/containers/${c.Id}/unpause`);
    if (c.State.Running) await call('POST', `/containers/${c.Id}/stop?t=10`);
    if (remove) await call('DELETE', `/containers/${c.Id}?force=true&v=true`);
  } catch (e) {
    if (statusOf(e) !== 404) throw e;
  }
}

/** A variable of the container's configured environment. */
export function envOf(c: ContainerInspect, name: string): string | undefined {
  const entry = (c.Config.Env ?? []).find((e) => e.startsWith(`${name}=`));
  return entry?.slice(name.length + 1);
}

/**
 * The last lines of a container's output, for error messages. Without a TTY the engine
 * multiplexes stdout and stderr in frames (1 byte stream, 3 zero, 4 bytes big-endian size).
 */
export async function logsTail(id: string, lines = 20): Promise<string> {
  try {
    return demux(await engineRaw('GET', `/containers/${encodeURIComponent(id)}/logs?stdout=true&stderr=true&tail=${lines}`)).trim();
  } catch {
    return '';
  }
}

function demux(raw: Buffer): string {
  const framed = raw.length >= 8 && raw[0]! <= 2 && raw[1] === 0 && raw[2] === 0 && raw[3] === 0;
  if (!framed) return raw.toString('utf8');
  const parts: Buffer[] = [];
  for (let at = 0; at + 8 <= raw.length; ) {
    const size = raw.readUInt32BE(at + 4);
    parts.push(raw.subarray(at + 8, at + 8 + size));
    at += 8 + size;
  }
  return Buffer.concat(parts).toString('utf8');
}
