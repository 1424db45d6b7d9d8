// Local errors of the client library: one class, a string `code` per failure kind.

/**
 * - `not_ready`: the server answers but /alive is not 200 yet (or never became so in time)
 * - `disconnected`: the connection dropped and retries ran out
 * - `unavailable`: 502/503/504 or refused connections, retries ran out
 * - `unauthorized`: 401, a missing or wrong API key (never retried)
 * - `bad_action`: 400/404/409/413, the server refused the request (never retried)
 * - `timeout`: no answer within the action's timeout plus the margin
 * - `paused`: the Docker runtime is paused; resume it first
 * - `docker`: the Docker engine failed (build, run, inspect)
 */
export type RuntimeErrorCode = 'not_ready' | 'disconnected' | 'unavailable' | 'unauthorized' | 'bad_action' | 'timeout' | 'paused' | 'docker';

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
