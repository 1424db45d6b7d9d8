// Every route of the runtime API, once: app.ts serves them and openapi.ts documents them from this
// table, so /openapi.json cannot miss one (test/control/http.test.ts compares it with express).
import * as z from 'zod';
import {
  ApiHealth,
  BuildResponse,
  BuildStatusResponse,
  ImageExistsResponse,
  ListQuery,
  ListResponse,
  RegistryPrefixResponse,
  RenewRequest,
  RenewResponse,
  RuntimeRequest,
  RuntimeResponse,
  RuntimeStatusResponse,
  SessionResponse,
  StartRequest,
  StartResponse,
} from '@runtime-client/protocol';

/** GET /image_exists. */
export const ImageExistsQuery = z.looseObject({ image: z.string().min(1).max(512) }).meta({ id: 'ImageExistsQuery' });
/** GET /build_status. */
export const BuildStatusQuery = z.looseObject({ build_id: z.string().min(1).max(64) }).meta({ id: 'BuildStatusQuery' });
/** POST /build, as multipart/form-data. */
export const BuildForm = z
  .object({
    context: z.string().describe('base64 of a tar.gz build context holding a Dockerfile'),
    target_image: z.string().describe('the image to build; /build_status reports it'),
    tags: z.array(z.string()).optional().describe('more tags, one part each'),
  })
  .meta({ id: 'BuildForm' });

export interface RouteSpec {
  method: 'get' | 'post';
  /** Express path (`:param`); openapi.ts writes `{param}`. */
  path: string;
  summary: string;
  /** False only for /health. */
  auth: boolean;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** A multipart body instead of JSON. */
  multipart?: z.ZodType;
  /** null: not JSON (metrics text, the OpenAPI document). */
  response: z.ZodType | null;
  /** The status of success; 200 unless said. */
  status?: number;
  contentType?: string;
}

export const ROUTES: readonly RouteSpec[] = [
  { method: 'post', path: '/start', summary: "The session's runtime: the running one, the paused one resumed, or a new one; answers once it is ready.", auth: true, body: StartRequest, response: StartResponse },
  { method: 'get', path: '/sessions/:session_id', summary: "The session's runtime; 404 when it has none.", auth: true, response: SessionResponse },
  { method: 'get', path: '/runtime/:runtime_id', summary: 'One runtime and its pod status.', auth: true, response: RuntimeResponse },
  { method: 'post', path: '/pause', summary: 'Pauses a runtime (its url answers 503 until /resume).', auth: true, body: RuntimeRequest, response: RuntimeStatusResponse },
  { method: 'post', path: '/resume', summary: 'Resumes a paused runtime; answers once it is ready.', auth: true, body: RuntimeRequest, response: RuntimeStatusResponse },
  { method: 'post', path: '/stop', summary: 'Stops and removes a runtime; stopping a stopped one answers 200.', auth: true, body: RuntimeRequest, response: RuntimeStatusResponse },
  { method: 'get', path: '/list', summary: 'Every runtime, or those with one status.', auth: true, query: ListQuery, response: ListResponse },
  { method: 'post', path: '/renew', summary: 'Moves expires_at to now + ttl_seconds (bounded by --max-ttl).', auth: true, body: RenewRequest, response: RenewResponse },
  { method: 'get', path: '/registry_prefix', summary: 'Where built images are named (OpenHands puts its runtime images under <prefix>/runtime).', auth: true, response: RegistryPrefixResponse },
  { method: 'get', path: '/image_exists', summary: 'Whether the backend has an image, with its time and size.', auth: true, query: ImageExistsQuery, response: ImageExistsResponse },
  { method: 'post', path: '/build', summary: 'Starts building a context on the backend; poll /build_status.', auth: true, multipart: BuildForm, response: BuildResponse, status: 202 },
  { method: 'get', path: '/build_status', summary: 'A build: PENDING, RUNNING, then SUCCESS (with image) or FAILURE, TIMEOUT, CANCELLED (with error).', auth: true, query: BuildStatusQuery, response: BuildStatusResponse },
  { method: 'get', path: '/health', summary: 'The service, its backend and how many runtimes run; no key needed.', auth: false, response: ApiHealth },
  { method: 'get', path: '/metrics', summary: 'Prometheus text: runtimes by status, start latency, reaped runtimes, proxy traffic.', auth: true, response: null, contentType: 'text/plain; version=0.0.4' },
  { method: 'get', path: '/openapi.json', summary: 'This document.', auth: true, response: null, contentType: 'application/json' },
];
