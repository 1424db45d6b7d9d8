// Engine failures as DriverErrors: the engine not answering (backend_unavailable), a missing
// image, a runtime class the engine lacks, and everything else the engine said ('engine', with
// its HTTP status). The engine's own sentence is kept; the request (and so the key) never is.
import { DriverError } from '../driver.js';

/** What dockerode (docker-modem) rejects with: a socket error, or the engine's answer. */
interface ModemError extends Error {
  code?: string;
  statusCode?: number;
  json?: unknown;
}

/** Socket errors that mean nobody answers at the engine's address. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOENT', 'EACCES', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND']);

/** The engine's HTTP status of a failed call (undefined when it did not answer). */
export const statusOf = (e: unknown): number | undefined => (e as ModemError | null)?.statusCode;

/** The engine's message for a failed call, else the socket error's. */
export function engineMessage(e: unknown): string {
  const err = e as ModemError;
  const json = err?.json as { message?: unknown } | string | undefined;
  if (json && typeof json === 'object' && typeof json.message === 'string') return json.message.trim();
  if (typeof json === 'string' && json.trim()) return json.trim();
  if (Buffer.isBuffer(json) && json.length) return json.toString('utf8').trim();
  return err?.message ?? String(e);
}

/** `e` (from a call doing `what`) as a DriverError; DriverErrors and aborts pass through. */
export function toDriverError(e: unknown, what: string, where: string): Error {
  if (e instanceof DriverError || (e as Error)?.name === 'AbortError') return e as Error;
  const err = e as ModemError;
  const status = statusOf(e);
  if (status === undefined && (UNREACHABLE.has(err?.code ?? '') || (e as Error)?.name === 'TimeoutError')) {
    return new DriverError('backend_unavailable', `the docker engine at ${where} does not answer (${what}: ${err.code ?? err.message})`);
  }
  const message = engineMessage(e);
  if (/unknown runtime specified/i.test(message)) return new DriverError('bad_runtime_class', `docker engine: ${what}: ${message}`, status);
  return new DriverError('engine', `docker engine: ${what}: ${status === undefined ? '' : `${status} `}${message}`, status);
}
