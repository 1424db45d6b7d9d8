// The runtime API (RUNTIME-API.md) on express, as server/http/app.ts serves PROTOCOL.md: the
// routes of routes.ts over a Lifecycle and a Driver, the X-API-Key check, and one error body for
// every refusal. The proxy (`/r/...`) does not go through express: server.ts hands it the request
// before any router runs, which keeps it within its latency budget.
import express, { type NextFunction, type Request, type Response } from 'express';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import { MAX_USER_ID, parseUserId, type ApiHealth, type StartRequest } from '@runtime-client/protocol';
import { withDeadline } from '../deadline.js';
import type { Driver } from '../driver.js';
import type { Lifecycle, RuntimeRecord, StartParams } from '../lifecycle/api.js';
import { jsonBody } from './body.js';
import { BUILD_ANSWER_WAIT_MS, Builds, readBuildForm } from './builds.js';
import { ControlApiError, parseOr400, toControlApiError } from './errors.js';
import type { Metrics } from './metrics.js';
import { openApiDocument } from './openapi.js';
import { ROUTES, type RouteSpec } from './routes.js';
import { commandOptions, listEntryShape, runtimeShape, sessionShape, startShape } from './shapes.js';

export interface AppContext {
  lifecycle: Lifecycle;
  driver: Driver;
  metrics: Metrics;
  log: Logger;
  version: string;
  /** Where clients reach this service; runtime urls are `<publicUrl>/r/{runtime_id}`. */
  publicUrl: () => string;
  /** The X-API-Key every route but /health requires; undefined: no key (loopback only, see server.ts). */
  apiKey: string | undefined;
  /** A JSON body over this many bytes gets 413. Default 1 MiB. */
  maxBodyBytes?: number;
  /** A /build upload over this many MiB gets 413. */
  maxBuildMb: number;
  /** A body must arrive whole within this many ms; else 408. Default 60000. */
  bodyTimeoutMs?: number;
  /** GET /registry_prefix. Default `runtime-client`. */
  registryPrefix?: string;
  builds: Builds;
}

/** A JSON body's limit, in bytes. */
export const DEFAULT_MAX_BODY_BYTES = 2 ** 20;
/** How long /health waits for the backend's ping, in ms. */
const HEALTH_PING_TIMEOUT_MS = 2000;

export function createApp(ctx: AppContext): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  const json = jsonBody({ limitBytes: ctx.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES, timeoutMs: ctx.bodyTimeoutMs ?? 60_000 });
  const checkKey = keyChecker(ctx.apiKey);
  const url = ctx.publicUrl;
  const { lifecycle } = ctx;

  app.use((req, _res, next) => {
    if (req.path === '/health' || checkKey(req.get('x-api-key'))) return next();
    next(new ControlApiError('unauthorized', 'missing or wrong X-API-Key header'));
  });

  const handlers: Record<string, (req: Request, res: Response) => Promise<unknown> | unknown> = {
    'post /start': async (req) => {
      const body = parseOr400(spec('post', '/start').body!, req.body, 'body') as StartRequest;
      const began = performance.now();
      try {
        const record = await lifecycle.start(startParams(body));
        ctx.metrics.observeStart(performance.now() - began, true);
        return startShape(record, url());
      } catch (e) {
        ctx.metrics.observeStart(0, false);
        throw e;
      }
    },
    'get /sessions/:session_id': (req) => sessionShape(known(lifecycle.bySession(String(req.params.session_id)), `no runtime for session ${JSON.stringify(req.params.session_id)}`), url()),
    'get /runtime/:runtime_id': (req) => runtimeShape(runtime(String(req.params.runtime_id)), url()),
    'post /pause': (req) => statusOf(lifecycle.pause(runtimeOf(req, '/pause').runtimeId, 'requested')),
    'post /resume': (req) => statusOf(lifecycle.resume(runtimeOf(req, '/resume').runtimeId)),
    'post /stop': (req) => statusOf(lifecycle.stop(runtimeOf(req, '/stop').runtimeId, 'requested')),
    'get /list': (req) => {
      const { status } = parseOr400(spec('get', '/list').query!, req.query, 'query') as { status?: RuntimeRecord['status'] };
      return { runtimes: lifecycle.list(status).map((r) => listEntryShape(r, url())) };
    },
    'post /renew': (req) => {
      const { runtime_id, ttl_seconds } = parseOr400(spec('post', '/renew').body!, req.body, 'body') as { runtime_id: string; ttl_seconds: number };
      runtime(runtime_id);
      const record = lifecycle.renew(runtime_id, ttl_seconds);
      return { runtime_id, expires_at: new Date(record.expiresAt).toISOString() };
    },
    'get /registry_prefix': () => ({ registry_prefix: ctx.registryPrefix ?? 'runtime-client' }),
    'get /image_exists': async (req) => {
      const { image } = parseOr400(spec('get', '/image_exists').query!, req.query, 'query') as { image: string };
      const info = await ctx.driver.image(image);
      if (!info.exists) return { exists: false };
      return { exists: true, image: { upload_time: info.createdAt ?? new Date(0).toISOString(), image_size_bytes: info.sizeBytes ?? 0 } };
    },
    'post /build': async (req, res) => {
      const form = await readBuildForm(req, ctx.maxBuildMb * 2 ** 20, ctx.bodyTimeoutMs ?? 60_000).catch((e: { error: ControlApiError; close: boolean }) => {
        if (!(e?.error instanceof ControlApiError)) throw e;
        if (e.close) res.setHeader('connection', 'close');
        throw e.error;
      });
      const buildId = ctx.builds.submit(form.context, form.tags);
      // OpenHands' builder polls /build_status every 30 s: a build that ends within a few seconds
      // is answered finished at its first poll, not half a minute later.
      await ctx.builds.settled(buildId, BUILD_ANSWER_WAIT_MS);
      return { build_id: buildId };
    },
    'get /build_status': (req) => {
      const { build_id } = parseOr400(spec('get', '/build_status').query!, req.query, 'query') as { build_id: string };
      return known(ctx.builds.status(build_id), `no build ${JSON.stringify(build_id)}`);
    },
    'get /health': async (): Promise<ApiHealth> => {
      const ping = ctx.driver.ping().then(() => null, (e: Error) => `${ctx.driver.name}: ${e.message}`);
      const pingError = await withDeadline(ping, HEALTH_PING_TIMEOUT_MS, () => new Error(`${ctx.driver.name}: no answer to a ping within ${HEALTH_PING_TIMEOUT_MS} ms`)).catch((e: Error) => e.message);
      // degraded: the backend does not answer, or it answers again and the lifecycle has not reconciled with it yet.
      const lifecycleDown = lifecycle.backendUnavailable();
      const why = pingError ?? (lifecycleDown === null ? null : `${lifecycleDown} (the service reconciles with the backend once it answers)`);
      return { status: why === null ? 'ok' : 'degraded', version: ctx.version, backend: ctx.driver.name, runtimes: lifecycle.counts(), ...(why === null ? {} : { backend_error: why }) };
    },
    'get /metrics': (_req, res) => {
      res.type('text/plain; version=0.0.4; charset=utf-8').send(ctx.metrics.render());
    },
    'get /openapi.json': () => openApiDocument(ctx.version),
  };

  for (const route of ROUTES) {
    const handler = handlers[`${route.method} ${route.path}`];
    if (!handler) throw new Error(`routes.ts lists ${route.method} ${route.path}, app.ts has no handler`);
    const middleware = route.body ? [json] : [];
    app[route.method](route.path, ...middleware, async (req: Request, res: Response, next: NextFunction) => {
      try {
        const answer = await handler(req, res);
        if (answer !== undefined && !res.headersSent) res.status(route.status ?? 200).json(answer);
      } catch (e) {
        next(e);
      }
    });
  }

  app.use((req, _res, next) => next(new ControlApiError('not_found', `no route ${req.method} ${req.path}`)));

  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const error = toControlApiError(err);
    if (error.code === 'internal') ctx.log.error({ err, route: `${req.method} ${req.path}` }, 'request failed');
    if (error.retryAfterSeconds !== undefined) res.setHeader('retry-after', String(Math.max(1, Math.ceil(error.retryAfterSeconds))));
    res.status(error.status).json(error.toBody());
  });
  return app;

  function runtime(runtimeId: string): RuntimeRecord {
    return known(lifecycle.get(runtimeId), `no runtime ${JSON.stringify(runtimeId)}`);
  }
  function runtimeOf(req: Request, path: string): RuntimeRecord {
    const { runtime_id } = parseOr400(spec('post', path).body!, req.body, 'body') as { runtime_id: string };
    return runtime(runtime_id);
  }
}

function spec(method: RouteSpec['method'], path: string): RouteSpec {
  return ROUTES.find((r) => r.method === method && r.path === path)!;
}

function known<T>(value: T | undefined, message: string): T {
  if (value === undefined) throw new ControlApiError('not_found', message);
  return value;
}

async function statusOf(record: Promise<RuntimeRecord>): Promise<{ runtime_id: string; status: RuntimeRecord['status'] }> {
  const r = await record;
  return { runtime_id: r.runtimeId, status: r.status };
}

/** /start's body as the lifecycle takes it; nulls (OpenHands sends them) mean absent. */
export function startParams(body: StartRequest): StartParams {
  const fromCommand = commandOptions(body.command);
  const params: StartParams = { image: body.image, sessionId: body.session_id };
  const optional = {
    env: body.environment ?? undefined,
    workingDir: fromCommand.workingDir ?? body.working_dir ?? undefined,
    username: fromCommand.username,
    userId: userIdOf(fromCommand.userId, fromCommand.username),
    ttlSeconds: body.ttl_seconds ?? undefined,
    idleTimeoutSeconds: body.idle_timeout_seconds ?? undefined,
    cpus: body.cpus ?? undefined,
    memoryMb: body.memory_mb ?? undefined,
    resourceFactor: body.resource_factor ?? undefined,
    runtimeClass: body.runtime_class ?? undefined,
  };
  for (const [k, v] of Object.entries(optional)) if (v !== undefined) (params as unknown as Record<string, unknown>)[k] = v;
  return params;
}

/** OpenHands' `--user-id N` from the start command: a uid for the user it names, else a 400 naming `command`. */
function userIdOf(raw: string | undefined, username: string | undefined): number | undefined {
  if (raw === undefined || username === undefined) return undefined;
  const uid = parseUserId(raw);
  if (uid === undefined) throw new ControlApiError('bad_request', `command: --user-id must be a uid from 0 to ${MAX_USER_ID}, got ${JSON.stringify(raw.slice(0, 40))}`, { field: 'command' });
  return uid;
}

/** A constant-time checker of X-API-Key; with no key configured every request passes. */
export function keyChecker(key: string | undefined): (given: unknown) => boolean {
  if (!key) return () => true;
  const digest = (s: string) => createHash('sha256').update(s).digest();
  const expected = digest(key);
  return (given) => typeof given === 'string' && timingSafeEqual(digest(given), expected);
}
