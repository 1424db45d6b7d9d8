// Every failure the server or the network can hand the client, mapped to a RuntimeError in one
// place: HTTP statuses, wire error codes (HTTP bodies and WS error frames) and transport errors.
import { RuntimeError, type RuntimeErrorCode } from './errors.js';
import { TransportError, type HttpResponse } from './http.js';

/** Statuses a proxy or a starting server answers for a moment: retried. */
export const TRANSIENT_STATUSES: ReadonlySet<number> = new Set([502, 503, 504]);

/** An HTTP answer that is not a success, kept as thrown value until the retries are done. */
export class StatusError extends RuntimeError {
  constructor(readonly response: HttpResponse) {
    super(response.status === 401 ? 'unauthorized' : response.status >= 400 && response.status < 500 ? 'bad_action' : 'unavailable', `HTTP ${response.status}`, response);
    this.name = 'StatusError';
  }
}

/** Worth another attempt with the same id: a dropped or refused connection, 502/503/504. */
export function isTransient(error: unknown): boolean {
  if (error instanceof TransportError) return !error.timedOut && error.sysCode !== 'ECLOSED';
  return error instanceof StatusError && transientAnswer(error.response);
}

/** 502/503/504, but not a runtime API proxy's 503 `paused`: a paused runtime stays so until someone resumes it. */
function transientAnswer(response: HttpResponse): boolean {
  return TRANSIENT_STATUSES.has(response.status) && (response.body as { error?: { code?: unknown } } | null)?.error?.code !== 'paused';
}

/** The server's `{"error":{"message"}}`, if the body is one. */
function serverMessage(body: unknown): string | undefined {
  const error = (body as { error?: { message?: unknown } } | null)?.error;
  return typeof error?.message === 'string' ? error.message : undefined;
}

/** The RuntimeError for a non-2xx answer to `what` (e.g. "POST /execute_action"). */
export function errorForStatus(response: HttpResponse, what: string): RuntimeError {
  const { status, body } = response;
  const detail = serverMessage(body) ?? (typeof body === 'string' && body ? body.slice(0, 200) : `HTTP ${status}`);
  if (status === 401) return new RuntimeError('unauthorized', `${what}: ${detail} (check the API key)`, body);
  if (status >= 400 && status < 500) return new RuntimeError('bad_action', `${what}: ${detail}`, body);
  const retried = transientAnswer(response) ? ', retries exhausted' : '';
  return new RuntimeError('unavailable', `${what}: the server answered ${status}${retried}: ${detail}`, { status, body });
}

/** The RuntimeError for a transport failure; a refused connection means nothing listens: unavailable. */
export function errorForTransport(error: TransportError, what: string, url: string): RuntimeError {
  if (error.sysCode === 'ECLOSED') return new RuntimeError('unavailable', `${what}: the client was closed`, { code: error.sysCode });
  if (error.timedOut) return new RuntimeError('timeout', `${what}: ${error.message}`, { code: error.sysCode });
  const code: RuntimeErrorCode = error.sysCode === 'ECONNREFUSED' ? 'unavailable' : 'disconnected';
  return new RuntimeError(code, `${what}: ${url} ${error.sysCode === 'ECONNREFUSED' ? 'refused the connection' : `failed (${error.sysCode}: ${error.message})`}`, {
    code: error.sysCode,
  });
}

/** Maps whatever a retried call threw last onto a RuntimeError. */
export function toRuntimeError(error: unknown, what: string, url: string): RuntimeError {
  if (error instanceof StatusError) return errorForStatus(error.response, what);
  if (error instanceof TransportError) return errorForTransport(error, what, url);
  if (error instanceof RuntimeError) return error;
  return new RuntimeError('disconnected', `${what}: ${(error as Error)?.message ?? String(error)}`, error);
}

/** The RuntimeError code for a wire error code (protocol/errors.ts), as in a WS error frame. */
export function codeForWireError(code: string): RuntimeErrorCode {
  switch (code) {
    case 'unauthorized':
      return 'unauthorized';
    case 'bad_request':
    case 'conflict':
    case 'payload_too_large':
      return 'bad_action';
    case 'not_found':
      return 'disconnected';
    default:
      return 'unavailable';
  }
}
