// Local errors of the client library: one class, a string `code` per failure kind.

/**
 * - `not_ready`: the server answers but /alive is not 200 yet (or never became so in time)
 * - `disconnected`: the connection dropped and retries ran out; a stream's socket could not be
 *   reopened, the server forgot the action, or output chunks were lost (data: a StreamGap); a
 *   stream closed by its handle's close()
 * - `unavailable`: 502/503/504 or refused connections, retries ran out; a 500 (not retried); an
 *   answer that is not an observation; the client was closed
 * - `unauthorized`: 401, a missing or wrong API key (never retried)
 * - `bad_action`: 400/404/409/413, the server refused the request (never retried); from run(), an
 *   error observation or a command refused because the session is busy (data: the observation);
 *   the runtime API refused a request (data.code: its error code, e.g. image_not_found)
 * - `timeout`: no answer within the action's timeout plus the margin (the action may still run)
 * - `paused`: the runtime (its handle) is paused; resume it first
 * - `docker`: the Docker engine failed (build, run, inspect)
 * - `stream_closed`: publish() or subscribe() on an EventStream after close()
 * - `not_found`: a runtime backend has no runtime by that id, session id or name, or more than
 *   one matches a short id (data: `{ backend, ref, matches? }`)
 * - `unknown_backend`: getBackend() was given a name no backend is registered under (data: `{ name, known }`)
 * - `capacity`: the runtime API runs as many runtimes as it may (429 too_many_runtimes); nothing
 *   was created (data: `{ retryAfterSeconds, error }`, retryAfterSeconds from Retry-After or null)
 */
export type RuntimeErrorCode = 'not_ready' | 'disconnected' | 'unavailable' | 'unauthorized' | 'bad_action' | 'timeout' | 'paused' | 'docker' | 'stream_closed' | 'not_found' | 'unknown_backend' | 'capacity';

export class RuntimeError extends Error {
  constructor(
    readonly code: RuntimeErrorCode,
    message: string,
    /** The server's JSON error body or other details, when there is one. */
    readonly data?: unknown,
  ) {
    super(message);
    this.name = 'RuntimeError';
  }
}
