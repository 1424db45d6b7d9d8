// Every error code on the wire, the JSON error body, and the close codes of /ws.
import * as z from 'zod';

/** What each code that refuses a request (HTTP body or WS `error` frame) means. */
const REFUSALS = {
  bad_request: 'The body, query or frame is malformed; `details.issues` names each failing field path.',
  unauthorized: 'The X-Session-API-Key header (or WS auth frame) is missing or wrong.',
  not_found: 'No such route, action id, session, file or directory.',
  request_timeout: 'The request body did not arrive within the body timeout (or an upload fell below the minimum rate); the connection is closed.',
  conflict: 'An id already used for a different action; every session in use (--max-sessions); a session ended while it started.',
  payload_too_large: 'A body, frame, upload or unpacked archive over its limit.',
  internal: 'A fault of the server; the request may be sent again.',
  unavailable: "The session's shell is still starting (POST /sessions/{name}/reset); send the request again later.",
  not_configured: 'The server was started with --await-config and has not been configured yet: only GET /alive and POST /configure answer.',
  already_configured: 'POST /configure came after (or raced) the one that configured the server; a server is configured once.',
} as const;

/** The codes that refuse a request, each with the HTTP status it is sent with. */
export const HTTP_STATUS = {
  bad_request: 400,
  unauthorized: 401,
  not_found: 404,
  request_timeout: 408,
  conflict: 409,
  payload_too_large: 413,
  internal: 500,
  unavailable: 503,
  not_configured: 503,
  already_configured: 409,
} as const satisfies Record<keyof typeof REFUSALS, number>;

/** A code that refuses a request: in every HTTP error body and in WS `error` frames. */
export const ErrorCode = z.enum(Object.keys(REFUSALS) as [keyof typeof REFUSALS, ...(keyof typeof REFUSALS)[]]).meta({
  id: 'ErrorCode',
  description: describe(REFUSALS),
});
export type ErrorCode = z.infer<typeof ErrorCode>;

/**
 * WS only: output chunks of a followed action were dropped from the server's window (8 MiB) before
 * this socket got them; `details` says which ({from_seq, first_seq}) and the stream continues at
 * `first_seq`. Not a failure: the observation still follows.
 */
export const OUTPUT_GAP = 'output_gap';

/** Every code on the wire, with what it means: the refusals and the WS `output_gap` notice. */
export const WIRE_ERROR_CODES: Readonly<Record<WireErrorCode, string>> = {
  ...REFUSALS,
  [OUTPUT_GAP]: 'WS only: output chunks from_seq..first_seq-1 are no longer held by the server; the stream continues from first_seq (details {from_seq, first_seq}).',
};
export type WireErrorCode = ErrorCode | typeof OUTPUT_GAP;

/** The error of an HTTP error body or a WS `error` frame. */
export const WireError = z
  .object({
    code: ErrorCode,
    /** A sentence for people; programs read `code` and `details`. */
    message: z.string(),
    /** For `bad_request`: `{issues: [{path, message}]}`. */
    details: z.unknown().optional(),
  })
  .meta({ id: 'WireError' });
export type WireError = z.infer<typeof WireError>;

/** The JSON body of every HTTP answer that is not a success. */
export const ErrorBody = z.object({ error: WireError });
export type ErrorBody = z.infer<typeof ErrorBody>;

/**
 * The close codes the server ends a /ws socket with (with a reason text); 1000 and the codes of
 * RFC 6455 for a dropped connection aside.
 */
export const WS_CLOSE = {
  /** A frame over the limit: 4 KiB before the socket has authenticated, --max-body-mb after (RFC 6455 "message too big"). */
  message_too_big: 1009,
  /** The socket could not be set up safely (no per-frame limit available); nothing was read from it. */
  server_error: 1011,
  /** No auth frame within 5 s of the upgrade, or a wrong key in it. An `unauthorized` error frame comes first. */
  unauthorized: 4401,
} as const;

function describe(codes: Record<string, string>): string {
  return Object.entries(codes)
    .map(([code, meaning]) => `${code}: ${meaning}`)
    .join('\n');
}
