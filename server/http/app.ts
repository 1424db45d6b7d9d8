// The HTTP routes of PROTOCOL.md on express: health, server info, actions.
import express, { type NextFunction, type Request, type Response } from 'express';
import { statfsSync } from 'node:fs';
import { ApiError } from '../errors.js';
import type { Executor } from '../actions/executor.js';
import { DEFAULT_SESSION, type SessionPool } from '../shell/pool.js';
import type { Logger } from '../logger.js';
import { registerFileRoutes } from '../files/routes.js';
import { registerSessionRoutes } from './sessions.js';
import { jsonBody } from './body.js';
import type { Owner } from '@runtime-client/archive';
import type { AliveReady, AliveStarting, Resources, ServerInfo } from '@runtime-client/protocol';

export interface AppContext {
  executor: Executor;
  pool: SessionPool;
  log: Logger;
  version: string;
  workingDir: string;
  maxBodyMb: number;
  /** A JSON body must arrive whole within this many ms; else 408 `request_timeout` and the connection closes. Default 60000. */
  bodyTimeoutMs?: number;
  checkKey: (given: unknown) => boolean;
  /** True once the default session is ready. */
  isReady: () => boolean;
  /** Uploads larger than this many MiB get 413. Default 10240. */
  maxUploadMb?: number;
  /** An uploaded archive that would unpack to more than this many MiB gets 413. Default 10240. */
  maxUnpackedMb?: number;
  /** Owner of uploaded files: the session user when the server runs as root for another user. */
  fileOwner?: Owner;
}

/** How long a JSON body may take to arrive, in ms. */
export const DEFAULT_BODY_TIMEOUT_MS = 60_000;

export function createApp(ctx: AppContext): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const json = jsonBody({ limitBytes: ctx.maxBodyMb * 2 ** 20, timeoutMs: ctx.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS });

  app.get('/alive', (_req, res) => {
    if (ctx.isReady()) res.json({ status: 'ok', version: ctx.version } satisfies AliveReady);
    else res.status(503).json({ status: 'not initialized' } satisfies AliveStarting);
  });

  app.use((req, _res, next) => {
    if (!ctx.checkKey(req.get('x-session-api-key'))) {
      next(new ApiError('unauthorized', 'missing or wrong X-Session-API-Key header'));
    } else next();
  });

  app.get('/server_info', (_req, res) => {
    const info: ServerInfo = {
      version: ctx.version,
      uptime: process.uptime(),
      idle_time: (Date.now() - ctx.executor.lastFinishedAt) / 1000,
      sessions: ctx.pool.list(),
      resources: resources(ctx.workingDir),
    };
    res.json(info);
  });

  app.post('/execute_action', json, async (req, res, next) => {
    try {
      const { id, action } = ctx.executor.parse(req.body, req.get('x-request-id'));
      const record = ctx.executor.submit(id, action);
      res.json(await record.done);
    } catch (e) {
      next(e);
    }
  });

  app.get('/actions/:id', async (req, res, next) => {
    const record = ctx.executor.get(req.params.id);
    if (!record) return next(new ApiError('not_found', `no action with id ${JSON.stringify(req.params.id)} is known`));
    res.json(await record.done);
  });

  registerSessionRoutes(app, ctx.pool);

  registerFileRoutes(app, {
    maxUploadMb: ctx.maxUploadMb ?? 10240,
    maxUnpackedMb: ctx.maxUnpackedMb,
    owner: ctx.fileOwner,
    cwd: () => ctx.pool.info(DEFAULT_SESSION)?.cwd ?? ctx.workingDir,
    json,
  });

  app.use((req, _res, next) => next(new ApiError('not_found', `no route ${req.method} ${req.path}`)));

  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const error = toApiError(err);
    if (error.code === 'internal') ctx.log.error({ err }, 'request failed');
    res.status(error.status).json(error.toBody());
  });
  return app;
}

/** Maps express's own 400s (a malformed URL parameter) and unknown errors onto the protocol's codes. */
function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if ((err as { status?: number } | null)?.status === 400) return new ApiError('bad_request', (err as Error).message);
  return new ApiError('internal', 'internal error: ' + (err as Error | null)?.message);
}

function resources(dir: string): Resources {
  const cpu = process.cpuUsage();
  let disk: Resources['disk'] = null;
  try {
    const s = statfsSync(dir);
    disk = { total_bytes: s.blocks * s.bsize, free_bytes: s.bavail * s.bsize };
  } catch {
    // working dir gone
  }
  return {
    cpu: { user_seconds: cpu.user / 1e6, system_seconds: cpu.system / 1e6 },
    memory: { rss_bytes: process.memoryUsage.rss() },
    disk,
  };
}
