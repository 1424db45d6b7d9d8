// Finding a runtime container by whatever a user holds: its session id, its container name, or
// its container id in full or short (as `ps` prints it). Only containers carrying the session
// label are candidates, so nothing else on the engine can be stopped by mistake.
import type { RuntimeState } from '../backends/backend.js';
import { RuntimeError } from '../errors.js';
import { hostPortOf, listRuntimeContainers, type ContainerInspect, type ContainerSummary } from './containers.js';
import { CONTAINER_PORT, LABEL_BASE, LABEL_MODE, LABEL_SESSION } from './spec.js';
import type { DockerRuntimeInfo } from './types.js';

/** The fewest hex digits a short container id may have. */
export const MIN_SHORT_ID = 4;

/**
 * The runtime container `ref` names: the one labelled with session id `ref`, else the one named
 * `ref` (a leading / allowed), else the one whose id is `ref` or starts with it (at least 4 hex
 * digits). RuntimeError 'not_found' when none does, or when a short id fits more than one.
 */
export async function findContainer(ref: string): Promise<ContainerSummary> {
  if (typeof ref !== 'string' || !ref) throw new TypeError(`a runtime is named by its session id, container id or container name, got ${JSON.stringify(ref)}`);
  if (!/[,"=]/.test(ref)) {
    const [bySession] = await listRuntimeContainers(ref);
    if (bySession) return bySession;
  }
  const all = await listRuntimeContainers();
  const name = ref.replace(/^\//, '');
  const byName = all.find((c) => c.Names.some((n) => n.replace(/^\//, '') === name));
  if (byName) return byName;
  const id = ref.toLowerCase();
  if (new RegExp(`^[0-9a-f]{${MIN_SHORT_ID},64}$`).test(id)) {
    const matches = all.filter((c) => c.Id.startsWith(id));
    if (matches.length === 1) return matches[0]!;
    if (matches.length > 1) {
      throw new RuntimeError('not_found', `${ref} is the start of ${matches.length} runtime containers' ids: give more digits`, { backend: 'docker', ref, matches: matches.map((c) => c.Id) });
    }
  }
  throw new RuntimeError('not_found', `no runtime container has the session id, name or id ${ref}`, { backend: 'docker', ref, status: 404 });
}

/** The engine's state in the backends' terms. */
export function stateOf(engineState: string): RuntimeState {
  switch (engineState) {
    case 'running':
      return 'running';
    case 'paused':
      return 'paused';
    case 'created':
    case 'restarting':
      return 'starting';
    case 'removing':
      return 'stopping';
    default: // exited, dead
      return 'stopped';
  }
}

/** A row of the container list as DockerRuntimeInfo. */
export function infoFromSummary(c: ContainerSummary): DockerRuntimeInfo {
  const port = c.Ports.find((p) => p.PrivatePort === CONTAINER_PORT && p.Type === 'tcp' && p.PublicPort);
  return info(c.Id, c.Names[0] ?? '', c.Image, c.State, c.Labels ?? {}, new Date(c.Created * 1000), port ? port.PublicPort! : null);
}

/** An inspected container as DockerRuntimeInfo. */
export function infoFromInspect(c: ContainerInspect): DockerRuntimeInfo {
  const published = c.State.Running || c.State.Paused ? hostPortOf(c) : null;
  return info(c.Id, c.Name, c.Config.Image, c.State.Status, c.Config.Labels ?? {}, new Date(c.Created), published);
}

function info(id: string, name: string, image: string, engineState: string, labels: Record<string, string>, created: Date, hostPort: number | null): DockerRuntimeInfo {
  const mode = labels[LABEL_MODE];
  // Whole seconds: the container list has no more, and info must not differ by where it came from.
  const seconds = Math.floor(created.getTime() / 1000);
  return {
    backend: 'docker',
    id,
    containerId: id,
    sessionId: labels[LABEL_SESSION] ?? '',
    name: name.replace(/^\//, ''),
    state: stateOf(engineState),
    engineState,
    image,
    baseImage: labels[LABEL_BASE] ?? null,
    mode: mode === 'build' || mode === 'mount' ? mode : null,
    createdAt: Number.isFinite(seconds) ? new Date(seconds * 1000).toISOString() : null,
    url: hostPort ? `http://127.0.0.1:${hostPort}` : null,
  };
}
