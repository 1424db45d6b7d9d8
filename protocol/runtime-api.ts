// The runtime API (RUNTIME-API.md): the control plane that starts, tracks, limits and reaps
// runtimes, in OpenHands' RemoteRuntime shapes plus routes of our own. Request schemas are loose
// where OpenHands sends more than we read (unknown fields are ignored); answers are exact.
import * as z from 'zod';

/** The service's error codes beyond PROTOCOL.md's, with their HTTP status. */
export const RUNTIME_API_ERRORS = {
  too_many_runtimes: { status: 429, meaning: 'More than --max-runtimes runtimes would be running or paused; nothing was created. Retry-After says when to try again.' },
  image_not_found: { status: 400, meaning: 'The image is not on the backend (and cannot be pulled); nothing was created.' },
  backend_unavailable: { status: 503, meaning: 'The backend (the Docker engine) does not answer.' },
} as const;
export type RuntimeApiErrorCode = keyof typeof RUNTIME_API_ERRORS;

/** A session id: what OpenHands sends as `session_id` (its conversation id), kept to a safe alphabet. */
export const ApiSessionId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, 'must be 1-128 characters of A-Z a-z 0-9 _ . -, starting with a letter or digit');

/** A runtime id as the service makes them: `rt-` and 24 hex digits. */
export const RuntimeId = z.string().regex(/^rt-[0-9a-f]{24}$/, 'must be a runtime id (rt- and 24 hex digits)');

/** Where a runtime's server is, as OpenHands reads it. */
export const PodStatus = z
  .enum(['pending', 'running', 'ready', 'failed', 'unknown', 'crashloopbackoff', 'not found'])
  .meta({
    id: 'PodStatus',
    description:
      'pending: being created; running: its process is up, /alive not yet 200; ready: /alive answered 200; failed: it exited or was killed; unknown: the backend cannot tell; crashloopbackoff: restarted repeatedly; not found: gone.',
  });
export type PodStatus = z.infer<typeof PodStatus>;

/** The runtime's lifecycle status. */
export const RuntimeStatus = z.enum(['running', 'paused', 'stopped']).meta({ id: 'RuntimeStatus' });
export type RuntimeStatus = z.infer<typeof RuntimeStatus>;

/** POST /start. */
export const StartRequest = z
  .looseObject({
    image: z.string().min(1).max(512),
    session_id: ApiSessionId,
    /** OpenHands' start command for its own server: --working-dir, --username and --user-id are honoured, the rest ignored. */
    command: z.union([z.string(), z.array(z.string())]).nullable().optional(),
    working_dir: z.string().max(4096).nullable().optional(),
    environment: z.record(z.string(), z.string()).nullable().optional(),
    resource_factor: z.number().positive().max(64).nullable().optional(),
    runtime_class: z.string().max(64).nullable().optional(),
    ttl_seconds: z.number().int().positive().nullable().optional(),
    idle_timeout_seconds: z.number().int().positive().nullable().optional(),
    cpus: z.number().positive().nullable().optional(),
    memory_mb: z.number().int().positive().nullable().optional(),
  })
  .meta({ id: 'StartRequest' });
export type StartRequest = z.infer<typeof StartRequest>;

/** The answer of POST /start. */
export const StartResponse = z
  .object({
    runtime_id: z.string(),
    session_id: z.string(),
    /** The runtime's server: by default the service's proxy, `<public url>/r/{runtime_id}`. */
    url: z.string(),
    /** Random per runtime; the url requires it as X-Session-API-Key. */
    session_api_key: z.string(),
    status: RuntimeStatus,
    pod_status: PodStatus,
    /** Hosts of the runtime's apps (OpenHands' work_hosts): empty here. */
    work_hosts: z.record(z.string(), z.number()),
    /** ISO 8601, UTC. */
    expires_at: z.string(),
    image: z.string(),
  })
  .meta({ id: 'StartResponse' });
export type StartResponse = z.infer<typeof StartResponse>;

/** GET /sessions/{session_id}. */
export const SessionResponse = z
  .object({
    runtime_id: z.string(),
    session_id: z.string(),
    status: RuntimeStatus,
    url: z.string(),
    session_api_key: z.string(),
    work_hosts: z.record(z.string(), z.number()),
    pod_status: PodStatus,
  })
  .meta({ id: 'SessionResponse' });
export type SessionResponse = z.infer<typeof SessionResponse>;

/** GET /runtime/{runtime_id}. */
export const RuntimeResponse = z
  .object({
    runtime_id: z.string(),
    session_id: z.string(),
    status: RuntimeStatus,
    pod_status: PodStatus,
    restart_count: z.number().int(),
    /** Why the sandbox went down, oldest first (e.g. `exited with status 137`, `OOMKilled`). */
    restart_reasons: z.array(z.string()),
    url: z.string(),
    expires_at: z.string(),
  })
  .meta({ id: 'RuntimeResponse' });
export type RuntimeResponse = z.infer<typeof RuntimeResponse>;

/** An entry of GET /list. */
export const RuntimeListEntry = RuntimeResponse.extend({
  image: z.string(),
  created_at: z.string(),
  last_activity_at: z.string(),
  cpus: z.number(),
  memory_mb: z.number().int(),
}).meta({ id: 'RuntimeListEntry' });
export type RuntimeListEntry = z.infer<typeof RuntimeListEntry>;

export const ListQuery = z.looseObject({ status: RuntimeStatus.optional() }).meta({ id: 'ListQuery' });
export const ListResponse = z.object({ runtimes: z.array(RuntimeListEntry) }).meta({ id: 'ListResponse' });
export type ListResponse = z.infer<typeof ListResponse>;

/** POST /pause, /resume, /stop. */
export const RuntimeRequest = z.looseObject({ runtime_id: z.string().min(1).max(64) }).meta({ id: 'RuntimeRequest' });
export const RuntimeStatusResponse = z.object({ runtime_id: z.string(), status: RuntimeStatus }).meta({ id: 'RuntimeStatusResponse' });

/** POST /renew. */
export const RenewRequest = z.looseObject({ runtime_id: z.string().min(1).max(64), ttl_seconds: z.number().int().positive() }).meta({ id: 'RenewRequest' });
export const RenewResponse = z.object({ runtime_id: z.string(), expires_at: z.string() }).meta({ id: 'RenewResponse' });

/** GET /health (no auth). */
export const ApiHealth = z
  .object({
    status: z.enum(['ok', 'degraded']),
    version: z.string(),
    backend: z.string(),
    runtimes: z.object({ running: z.number().int(), paused: z.number().int() }),
    backend_error: z.string().optional().describe('With status degraded: why the backend is taken to be down (its ping failed or timed out, or a call found it not answering and it has not been reconciled with since), in a sentence.'),
  })
  .meta({ id: 'ApiHealth' });
export type ApiHealth = z.infer<typeof ApiHealth>;

/** The build routes of OpenHands' RemoteRuntimeBuilder. */
export const RegistryPrefixResponse = z.object({ registry_prefix: z.string() }).meta({ id: 'RegistryPrefixResponse' });
export const ImageExistsResponse = z
  .object({ exists: z.boolean(), image: z.object({ upload_time: z.string(), image_size_bytes: z.number().int() }).optional() })
  .meta({ id: 'ImageExistsResponse' });
export const BuildResponse = z.object({ build_id: z.string() }).meta({ id: 'BuildResponse' });
export const BuildStatus = z.enum(['PENDING', 'RUNNING', 'SUCCESS', 'FAILURE', 'TIMEOUT', 'CANCELLED']).meta({ id: 'BuildStatus' });
export const BuildStatusResponse = z
  .object({ status: BuildStatus, image: z.string().optional(), error: z.string().optional() })
  .meta({ id: 'BuildStatusResponse' });
