// The runtime API's answers in the backends' terms: one RemoteRuntimeInfo from whichever route
// reported the runtime.
import type { PodStatus, RuntimeListEntry, RuntimeResponse, RuntimeStatus, StartResponse } from '@runtime-client/protocol';
import type { RuntimeState } from '../backends/backend.js';
import type { RemoteRuntimeInfo } from './types.js';

/** The service's status and pod status as one RuntimeState. */
export function stateOf(status: RuntimeStatus, podStatus: PodStatus): RuntimeState {
  if (status !== 'running') return status;
  switch (podStatus) {
    case 'ready':
    case 'unknown':
      return 'running';
    case 'failed':
    case 'not found':
      return 'stopped';
    default: // pending, running (its process up, /alive not yet 200), crashloopbackoff
      return 'starting';
  }
}

/** What /runtime/{id} says, plus what /start or /list add (image, creation, activity, limits). */
export function infoOf(r: RuntimeResponse | (StartResponse & Partial<RuntimeResponse>), extra: Partial<RuntimeListEntry> = {}): RemoteRuntimeInfo {
  const image = extra.image ?? ('image' in r ? r.image : undefined);
  return {
    backend: 'remote',
    id: r.runtime_id,
    runtimeId: r.runtime_id,
    sessionId: r.session_id,
    name: r.runtime_id,
    state: stateOf(r.status, r.pod_status),
    image: image ?? null,
    createdAt: extra.created_at ?? null,
    url: r.status === 'stopped' ? null : r.url,
    podStatus: r.pod_status,
    expiresAt: r.expires_at,
    restartCount: r.restart_count ?? 0,
    restartReasons: r.restart_reasons ?? [],
    lastActivityAt: extra.last_activity_at ?? null,
    cpus: extra.cpus ?? null,
    memoryMb: extra.memory_mb ?? null,
  };
}

/** A /list entry. */
export function infoOfEntry(entry: RuntimeListEntry): RemoteRuntimeInfo {
  return infoOf(entry, entry);
}
