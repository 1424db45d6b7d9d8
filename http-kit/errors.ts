// The package's one error, HttpKitError: a request refused while its body was read or parsed. Its
// `code` is a wire code both sides have (bad_request, payload_too_large, request_timeout); each
// side answers it as its own error class with the same code and message (server: ApiError,
// control plane: ControlApiError), so the answers stay those of each API.

/** The codes a body is refused with; both APIs map each to the same HTTP status (400, 413, 408). */
export type HttpKitErrorCode = 'bad_request' | 'payload_too_large' | 'request_timeout';

export class HttpKitError extends Error {
  constructor(
    readonly code: HttpKitErrorCode,
    message: string,
    /** True when the connection must close after the answer: the rest of the body was not read. */
    readonly closeConnection = false,
  ) {
    super(message);
    this.name = 'HttpKitError';
  }
}
