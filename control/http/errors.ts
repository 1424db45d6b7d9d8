// The runtime API's refusals: one class, ControlApiError, with a string `code`; the HTTP status
// of each code is set here and only here. Lifecycle and driver errors map onto these codes in
// toControlApiError, so a route never picks a status itself.
import * as z from 'zod';
import { RUNTIME_API_ERRORS } from '@runtime-client/protocol';
import { ControlError } from '../errors.js';
import type { ZodError } from 'zod';
import { DriverError } from '../driver.js';
import { LifecycleError } from '../lifecycle/api.js';

/** Every code the service refuses a request with, its HTTP status and what it means; the codes RUNTIME-API.md adds to PROTOCOL.md's come from protocol/. */
export const CONTROL_API_ERRORS = {
  bad_request: { status: 400, meaning: 'The body, query or a field is malformed or out of bounds; `details.field` (and `details.issues` for a schema failure) names it.' },
  image_not_found: RUNTIME_API_ERRORS.image_not_found,
  unauthorized: { status: 401, meaning: 'The X-API-Key header is missing or wrong.' },
  not_found: { status: 404, meaning: 'No such route, runtime, session or build; or the runtime behind /r/{runtime_id} is stopped.' },
  request_timeout: { status: 408, meaning: 'The request body did not arrive within the body timeout; the connection is closed.' },
  conflict: { status: 409, meaning: 'The runtime is in a state that does not allow this now (it is being started or stopped).' },
  payload_too_large: { status: 413, meaning: 'A JSON body over 1 MiB, or a /build upload over --max-build-mb.' },
  too_many_runtimes: RUNTIME_API_ERRORS.too_many_runtimes,
  internal: { status: 500, meaning: 'A fault of the service; the request may be sent again.' },
  runtime_unreachable: { status: 502, meaning: "/r/{runtime_id}: the runtime's server did not answer (it died or is restarting)." },
  unavailable: { status: 503, meaning: '/r/{runtime_id}: the runtime is still starting, or coming back after its sandbox died; answered at once, with Retry-After.' },
  paused: { status: 503, meaning: '/r/{runtime_id}: the runtime is paused (POST /resume brings it back); answered at once, with Retry-After.' },
  backend_unavailable: RUNTIME_API_ERRORS.backend_unavailable,
} as const;
export type ControlApiErrorCode = keyof typeof CONTROL_API_ERRORS;

/** The JSON body of every answer that is not a success (in /openapi.json). */
export const ControlErrorBody = z
  .object({
    error: z.object({
      code: z.enum(Object.keys(CONTROL_API_ERRORS) as [ControlApiErrorCode, ...ControlApiErrorCode[]]),
      message: z.string(),
      details: z.unknown().optional(),
    }),
  })
  .meta({ id: 'ErrorBody' });
export type ControlErrorBody = z.infer<typeof ControlErrorBody>;

export class ControlApiError extends ControlError {
  constructor(
    override readonly code: ControlApiErrorCode,
    message: string,
    readonly details?: unknown,
    /** For too_many_runtimes: the Retry-After header, in seconds. */
    readonly retryAfterSeconds?: number,
  ) {
    super(code, message);
    this.name = 'ControlApiError';
  }

  get status(): number {
    return CONTROL_API_ERRORS[this.code].status;
  }

  toBody(): ControlErrorBody {
    return { error: { code: this.code, message: this.message, ...(this.details === undefined ? {} : { details: this.details }) } };
  }
}

/** A 400 naming each failing field path (`cpus: expected number, received string`). */
export function validationError(error: ZodError, what: string): ControlApiError {
  const issues = error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));
  const message = issues.map((i) => `${i.path || what}: ${i.message}`).join('; ');
  const field = issues[0]?.path || undefined;
  return new ControlApiError('bad_request', message, { ...(field ? { field } : {}), issues });
}

/** `schema.parse(value)`, or the 400 of validationError. */
export function parseOr400<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw validationError(parsed.error, what);
  return parsed.data;
}

/** Maps what a route may throw (ours, the lifecycle's, a driver's, express's own 400s) onto a code. */
export function toControlApiError(err: unknown): ControlApiError {
  if (err instanceof ControlApiError) return err;
  if (err instanceof LifecycleError) {
    const details = err.field ? { field: err.field } : undefined;
    if (err.code === 'too_many_runtimes') return new ControlApiError('too_many_runtimes', err.message, undefined, err.retryAfterSeconds ?? 30);
    return new ControlApiError(err.code, err.message, details);
  }
  if (err instanceof DriverError) {
    if (err.code === 'image_not_found' || err.code === 'backend_unavailable') return new ControlApiError(err.code, err.message);
    if (err.code === 'bad_runtime_class') return new ControlApiError('bad_request', err.message, { field: 'runtime_class' });
    return new ControlApiError('internal', 'the engine refused: ' + err.message);
  }
  const status = (err as { status?: number } | null)?.status;
  if (status === 400) return new ControlApiError('bad_request', (err as Error).message);
  return new ControlApiError('internal', 'internal error: ' + ((err as Error | null)?.message ?? String(err)));
}
