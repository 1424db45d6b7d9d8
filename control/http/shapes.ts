// A RuntimeRecord in the answers' shapes (protocol/runtime-api.ts). The runtime's `url` is always
// the service's proxy, `<public url>/r/{runtime_id}`; the direct URL never leaves the service.
import type { RuntimeListEntry, RuntimeResponse, SessionResponse, StartResponse } from '@runtime-client/protocol';
import type { RuntimeRecord } from '../lifecycle/api.js';

const iso = (ms: number) => new Date(ms).toISOString();

export function runtimeUrl(publicUrl: string, runtimeId: string): string {
  return `${publicUrl}/r/${runtimeId}`;
}

export function startShape(r: RuntimeRecord, publicUrl: string): StartResponse {
  return {
    runtime_id: r.runtimeId,
    session_id: r.sessionId,
    url: runtimeUrl(publicUrl, r.runtimeId),
    session_api_key: r.apiKey,
    status: r.status,
    pod_status: r.podStatus,
    work_hosts: {},
    expires_at: iso(r.expiresAt),
    image: r.image,
  };
}

export function sessionShape(r: RuntimeRecord, publicUrl: string): SessionResponse {
  return {
    runtime_id: r.runtimeId,
    session_id: r.sessionId,
    status: r.status,
    url: runtimeUrl(publicUrl, r.runtimeId),
    session_api_key: r.apiKey,
    work_hosts: {},
    pod_status: r.podStatus,
  };
}

export function runtimeShape(r: RuntimeRecord, publicUrl: string): RuntimeResponse {
  return {
    runtime_id: r.runtimeId,
    session_id: r.sessionId,
    status: r.status,
    pod_status: r.podStatus,
    restart_count: r.restartCount,
    restart_reasons: r.restartReasons,
    url: runtimeUrl(publicUrl, r.runtimeId),
    expires_at: iso(r.expiresAt),
  };
}

export function listEntryShape(r: RuntimeRecord, publicUrl: string): RuntimeListEntry {
  return {
    ...runtimeShape(r, publicUrl),
    image: r.image,
    created_at: iso(r.createdAt),
    last_activity_at: iso(r.lastActivityAt),
    cpus: r.cpus,
    memory_mb: r.memoryMb,
  };
}

/**
 * What the runtime honours of OpenHands' start command: --working-dir, --username and --user-id
 * (as `--flag value` or `--flag=value`); a string command is split on whitespace and quotes.
 */
export function commandOptions(command: string | string[] | null | undefined): { workingDir?: string; username?: string; userId?: string } {
  if (!command) return {};
  const words = Array.isArray(command) ? command : splitWords(command);
  const out: { workingDir?: string; username?: string; userId?: string } = {};
  const keys = { '--working-dir': 'workingDir', '--username': 'username', '--user-id': 'userId' } as const;
  for (let i = 0; i < words.length; i++) {
    const [flag, inline] = words[i].split(/=(.*)/s, 2);
    if (!(flag in keys)) continue;
    const value = inline ?? words[i + 1];
    if (inline === undefined) i++;
    if (value !== undefined && value !== '') out[keys[flag as keyof typeof keys]] = value;
  }
  return out;
}

function splitWords(text: string): string[] {
  const words: string[] = [];
  for (const m of text.matchAll(/"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g)) words.push(m[1] ?? m[2] ?? m[3]);
  return words;
}
