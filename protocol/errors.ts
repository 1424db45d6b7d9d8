// The JSON error body every failing HTTP route and WS `error` frame carries.
import { z } from 'zod';

/** Stable error codes on the wire and the HTTP status each maps to. */
export const HTTP_STATUS = {
  bad_request: 400,
  unauthorized: 401,
  not_found: 404,
  /** The request body did not arrive within the body timeout; the connection is closed. */
  request_timeout: 408,
  /** An id already used for a different action. */
  conflict: 409,
  payload_too_large: 413,
  internal: 500,
  unavailable: 503,
} as const;
export type ErrorCode = keyof typeof HTTP_STATUS;

export const ErrorBody = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.unknown().optional(),
  }),
});
export type ErrorBody = z.infer<typeof ErrorBody>;
