// One error type for everything the server refuses; the HTTP status comes from the code, here only.
import type { ZodError } from 'zod';
import { HTTP_STATUS, type ErrorCode, type ErrorBody } from '@runtime-client/protocol';

export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }

  get status(): number {
    return HTTP_STATUS[this.code];
  }

  toBody(): ErrorBody {
    return { error: { code: this.code, message: this.message, ...(this.details === undefined ? {} : { details: this.details }) } };
  }
}

/** A 400 naming each failing field path (`action.args.command: expected string, received number`). */
export function validationError(error: ZodError, root: string): ApiError {
  const issues = error.issues.map((issue) => {
    const path = [root, ...issue.path.map(String)].filter(Boolean).join('.');
    return { path, message: issue.message };
  });
  const message = issues.map((i) => `${i.path || 'body'}: ${i.message}`).join('; ');
  return new ApiError('bad_request', message, { issues });
}

/** A mistake in how a command was called: the CLI exits 2 and points at --help. */
export class UsageError extends Error {
  readonly code = 'usage';
}
