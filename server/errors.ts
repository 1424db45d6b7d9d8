// The server package's errors: one base, ServerError, with a string `code`. ApiError is what a
// request is refused with (its code is a wire code of protocol/errors.ts and maps to the HTTP
// status here, only here); UsageError is a bad flag or environment value at start-up (exit 2).
// Every code is listed in README.md, "Error codes".
import type { ZodError } from 'zod';
import { HTTP_STATUS, type ErrorCode, type ErrorBody } from '@runtime-client/protocol';

export class ServerError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class ApiError extends ServerError {
  declare readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(code, message, details);
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

/**
 * A mistake in how the server was started (a flag, an environment value): exit 2, pointing at
 * --help. `field` is the flag or /configure body field at fault, when one is (a 400 names it).
 */
export class UsageError extends ServerError {
  declare readonly code: 'usage';

  constructor(
    message: string,
    readonly field?: string,
  ) {
    super('usage', message);
  }
}
