// The runtime API's routes as calls: JSON over the client's keep-alive transport with X-API-Key,
// answers parsed with the protocol's schemas, failures mapped to RuntimeError in one place.
import {
  ListResponse,
  RenewResponse,
  RuntimeResponse,
  RuntimeStatusResponse,
  SessionResponse,
  StartResponse,
  type RuntimeStatus,
  type StartRequest,
} from '@runtime-client/protocol';
import type * as z from 'zod';
import { RuntimeError } from '../errors.js';
import { errorForTransport, isTransient, StatusError } from '../failures.js';
import { HttpTransport, TransportError, type HttpRequest, type HttpResponse } from '../http.js';
import { withRetries } from '../retry.js';

export interface ApiOptions {
  url: URL;
  apiKey: string | undefined;
  timeoutMs: number;
  retries: number;
}

/** One service: every call goes through one keep-alive agent until close(). */
export class RuntimeApi {
  readonly url: string;
  readonly #http: HttpTransport;
  readonly #options: ApiOptions;

  constructor(options: ApiOptions) {
    this.#options = options;
    this.url = options.url.href.replace(/\/$/, '');
    this.#http = new HttpTransport(options.url, options.apiKey ? { 'x-api-key': options.apiKey } : {});
  }

  /** POST /start; `timeoutMs` covers the service's wait for the runtime's /alive. */
  start(body: StartRequest, timeoutMs: number): Promise<StartResponse> {
    // Safe to retry: the service keeps one runtime per session, so a second /start returns the first's.
    return this.#call({ method: 'POST', path: '/start', body, timeoutMs }, StartResponse, { ref: body.session_id });
  }

  session(sessionId: string): Promise<SessionResponse> {
    return this.#call({ method: 'GET', path: `/sessions/${encodeURIComponent(sessionId)}` }, SessionResponse, { ref: sessionId });
  }

  runtime(runtimeId: string): Promise<RuntimeResponse> {
    return this.#call({ method: 'GET', path: `/runtime/${encodeURIComponent(runtimeId)}` }, RuntimeResponse, { ref: runtimeId });
  }

  list(status?: RuntimeStatus): Promise<ListResponse> {
    return this.#call({ method: 'GET', path: status ? `/list?status=${status}` : '/list' }, ListResponse, {});
  }

  /** POST /pause, /resume or /stop: each leaves the runtime in one state, so a retry is harmless. */
  change(route: 'pause' | 'resume' | 'stop', runtimeId: string): Promise<z.infer<typeof RuntimeStatusResponse>> {
    return this.#call({ method: 'POST', path: `/${route}`, body: { runtime_id: runtimeId } }, RuntimeStatusResponse, { ref: runtimeId });
  }

  renew(runtimeId: string, ttlSeconds: number): Promise<z.infer<typeof RenewResponse>> {
    return this.#call({ method: 'POST', path: '/renew', body: { runtime_id: runtimeId, ttl_seconds: ttlSeconds } }, RenewResponse, { ref: runtimeId });
  }

  /** Frees the agent's sockets; calls in flight fail with 'unavailable'. */
  close(): void {
    this.#http.close();
  }

  async #call<S extends z.ZodType>(req: Omit<HttpRequest, 'timeoutMs'> & { timeoutMs?: number }, schema: S, about: { ref?: string }): Promise<z.infer<S>> {
    const what = `${req.method} ${req.path.split('?')[0]}`;
    const request: HttpRequest = { ...req, timeoutMs: req.timeoutMs ?? this.#options.timeoutMs };
    let res: HttpResponse;
    try {
      res = await withRetries(
        async () => {
          const answer = await this.#http.request(request);
          if (answer.status >= 300) throw new StatusError(answer);
          return answer;
        },
        { retries: this.#options.retries, backoffMs: 100, maxBackoffMs: 2_000 },
        { transient: isTransient },
      );
    } catch (e) {
      if (e instanceof StatusError) throw apiError(e.response, what, about.ref);
      if (e instanceof TransportError) throw errorForTransport(e, `${what} on the runtime API`, this.url);
      throw e;
    }
    const parsed = schema.safeParse(res.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new RuntimeError('unavailable', `${what}: the runtime API answered ${res.status} with something that is not its documented shape (${issue?.path.join('.') || 'body'}: ${issue?.message})`, {
        status: res.status,
        body: res.body,
      });
    }
    return parsed.data;
  }
}

/**
 * The RuntimeError for a runtime API error answer (`{"error":{code,message,details?}}`): 401
 * unauthorized, 404 not_found, 429 capacity (with Retry-After in seconds), other 4xx bad_action,
 * 5xx unavailable. `data` keeps the service's error body.
 */
export function apiError(response: HttpResponse, what: string, ref: string | undefined): RuntimeError {
  const { status, body } = response;
  const error = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | null)?.error;
  const message = typeof error?.message === 'string' ? error.message : typeof body === 'string' && body ? body.slice(0, 200) : `HTTP ${status}`;
  const wire = typeof error?.code === 'string' ? error.code : undefined;
  const data = { backend: 'remote', status, code: wire, ref, error: error ?? body };
  if (status === 401) return new RuntimeError('unauthorized', `${what}: ${message} (check the runtime API key: apiKey or env RUNTIME_API_KEY)`, data);
  if (status === 404) return new RuntimeError('not_found', `${what}: ${message}`, data);
  if (status === 429) {
    const retryAfterSeconds = retryAfter(response.headers?.['retry-after']);
    const later = retryAfterSeconds === null ? '' : ` (retry after ${retryAfterSeconds} s)`;
    return new RuntimeError('capacity', `${what}: ${message}${later}`, { ...data, retryAfterSeconds });
  }
  if (status >= 400 && status < 500) return new RuntimeError('bad_action', `${what}: ${message}`, data);
  return new RuntimeError('unavailable', `${what}: the runtime API answered ${status}: ${message}`, data);
}

/** Retry-After in seconds (a number, or an HTTP date from now), or null when absent or unreadable. */
function retryAfter(value: string | string[] | undefined): number | null {
  const text = Array.isArray(value) ? value[0] : value;
  if (!text) return null;
  if (/^\s*\d+\s*$/.test(text)) return Number(text);
  const at = Date.parse(text);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}
