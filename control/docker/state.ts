// What the engine's `GET /containers/{id}/json` says of a sandbox, as a SandboxState.
import type { SandboxState } from '../driver.js';
import { PORT_KEY } from './spec.js';

/** The parts of an inspect the driver reads. */
export interface ContainerInspect {
  Id: string;
  RestartCount?: number;
  State: { Status: string; ExitCode?: number; OOMKilled?: boolean; FinishedAt?: string; Restarting?: boolean };
  Config: { Labels?: Record<string, string> | null };
  NetworkSettings?: { Ports?: Record<string, { HostIp: string; HostPort: string }[] | null> | null } | null;
}

const STATUS: Record<string, SandboxState['status']> = {
  created: 'created',
  running: 'running',
  paused: 'paused',
  exited: 'exited',
  // Died and never cleaned up by the engine: as good as exited.
  dead: 'exited',
  removing: 'removing',
  // Died, and the engine's restart policy starts it again (after its back-off).
  restarting: 'restarting',
};

/** The SandboxState of an inspected container; `url` is set while its port is bound (running or paused). */
export function stateOf(c: ContainerInspect): SandboxState {
  const status = STATUS[c.State.Status] ?? 'unknown';
  const exited = status === 'exited' || status === 'restarting';
  return {
    id: c.Id,
    labels: { ...(c.Config.Labels ?? {}) },
    status,
    restartCount: c.RestartCount ?? 0,
    ...(exited ? { exitCode: c.State.ExitCode ?? 0, oomKilled: c.State.OOMKilled === true } : {}),
    url: status === 'running' || status === 'paused' ? urlOf(c) : null,
  };
}

/** `http://<host ip>:<host port>` of the published runtime-client port, or null when none is bound. */
export function urlOf(c: ContainerInspect): string | null {
  const binding = (c.NetworkSettings?.Ports?.[PORT_KEY] ?? []).find((b) => b.HostPort);
  if (!binding) return null;
  const ip = !binding.HostIp || binding.HostIp === '0.0.0.0' ? '127.0.0.1' : binding.HostIp;
  return `http://${ip.includes(':') ? `[${ip}]` : ip}:${binding.HostPort}`;
}
