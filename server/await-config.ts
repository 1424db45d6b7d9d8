// --await-config: a server started before anyone asked for it (a warm sandbox) binds its port and
// answers /alive 200 at once, starts no shell, and waits for one POST /configure (with the start
// key) to give it a new key, the shells' environment, working dir and user. Then it starts what
// a server started with those flags and that environment would, on the same port: the listening
// socket stays, its request and upgrade handlers are swapped. A configured server saves what it
// was given (configured-state.ts) and, started again in the same container (the engine's restart
// policy), comes back configured as if that /configure had just been made.
import express, { type NextFunction, type Request, type Response } from 'express';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { ConfigureRequest, type AliveReady, type AliveStarting, type ConfigureResult } from '@runtime-client/protocol';
import { ApiError, UsageError, validationError } from './errors.js';
import { DEFAULTS, type ServerConfig } from './config.js';
import type { Logger } from './logger.js';
import { keyChecker } from './http/auth.js';
import { jsonBody } from './http/body.js';
import { rejectUpgrade, type UpgradeHandler } from './http/ws.js';
import { BODY_NAMES, settleSession, type SessionRequest } from './session-settings.js';
import { PRIVATE_ENV, listen, startSessions, type Listener, type RunningServer, type Sessions } from './server.js';
import { UserSetupError } from './user-setup.js';
import { loadConfigured, saveConfigured } from './configured-state.js';
import { VERSION } from './version.js';

/** A server's settings before its session is known: the session part is what the flags said, settled at /configure. */
export interface AwaitingConfig extends Omit<ServerConfig, 'workingDir' | 'username' | 'shell'> {
  /** --working-dir, --username, --user-id, --shell as given; /configure's fields take their place. */
  session: SessionRequest;
  /**
   * Where a successful /configure is saved (root-only) and found again at the next start, so that
   * a restarted server comes back configured; the command line gives RUNTIME_CLIENT_STATE_DIR or
   * /run/runtime-client. Absent: nothing is saved nor looked for.
   */
  stateDir?: string;
}

export interface AwaitingServer extends RunningServer {
  /** Resolves once a /configure has succeeded (the default session is ready). */
  configured: Promise<void>;
}

type State = 'waiting' | 'configuring' | 'configured';

/** Binds the port and waits for POST /configure. */
export async function startAwaiting(config: AwaitingConfig, log: Logger): Promise<AwaitingServer> {
  const startKey = keyChecker(config.apiKey);
  if (!config.apiKey) log.warn('SESSION_API_KEY is not set: anyone who can reach the port can configure the server');
  let state: State = 'waiting';
  let sessions: Sessions | null = null;
  /** The sessions a /configure under way is starting (closed with the server). */
  let starting: Sessions | null = null;
  let closed = false;
  let onConfigured: () => void = () => {};
  const configured = new Promise<void>((resolve) => (onConfigured = resolve));

  /** True while a saved configuration is being applied at start: /alive answers 503 until it is. */
  let restoring = false;

  async function configure(body: unknown): Promise<void> {
    if (state !== 'waiting') throw alreadyConfigured();
    const req = checkedRequest(body);
    state = 'configuring'; // from here on a second /configure is refused, even while this one waits for its shell
    await apply(req, false);
  }

  /** Starts the sessions `req` asks for; `restored`: it comes from the state dir, not a request. Called in state 'configuring'. */
  async function apply(req: ConfigureRequest, restored: boolean): Promise<void> {
    const base = config.session;
    const request: SessionRequest = {
      workingDir: req.working_dir ?? base.workingDir,
      ...(req.username !== undefined ? { username: req.username, userId: req.user_id } : { username: base.username, userId: req.user_id ?? base.userId }),
      shell: base.shell,
    };
    let started: Sessions | undefined;
    try {
      const settled = settleSession(request, BODY_NAMES);
      for (const warning of settled.user?.warnings ?? []) log.warn(warning);
      if (settled.user?.created) log.info({ user: settled.user.name, uid: settled.user.uid, gid: settled.user.gid }, 'user created');
      const { session: _session, ...rest } = config;
      const full: ServerConfig = { ...rest, workingDir: settled.workingDir, username: settled.username, shell: settled.shell, apiKey: req.api_key };
      started = starting = startSessions(full, log, req.environment ?? {});
      await readyWithin(started.ready, config.shellStartTimeoutSeconds);
      if (closed) throw new ApiError('unavailable', 'the server is shutting down');
      if (!restored && config.stateDir !== undefined) save(req);
      sessions = started;
      listener.use(configuredHandle(started.handle, startKey, keyChecker(req.api_key)), started.upgrade);
      state = 'configured';
      log.info({ user: started.user, workingDir: full.workingDir, environment: Object.keys(req.environment ?? {}), ...(restored ? { restored: true } : {}) }, 'configured');
      onConfigured();
    } catch (e) {
      await started?.close();
      state = 'waiting'; // nothing was taken: a later /configure may try again
      throw configureError(e);
    } finally {
      starting = null;
    }
  }

  /** Saves `req` for a restart; a failure costs only that (the session works), and is said. */
  function save(req: ConfigureRequest): void {
    try {
      saveConfigured(config.stateDir!, config.apiKey, req);
    } catch (e) {
      log.warn({ stateDir: config.stateDir }, `the configuration could not be saved (${(e as Error).message}): a restart of this server will come back unconfigured`);
    }
  }

  const saved = config.stateDir === undefined ? undefined : savedRequest(config.stateDir, config.apiKey, log);
  if (saved) {
    state = 'configuring'; // before the port is bound: no /configure can come first
    restoring = true;
  }
  const listener: Listener = await listen(config, waitingHandle(config, startKey, configure, () => restoring), refuseUpgrade);
  log.info({ host: config.host, port: listener.port, version: VERSION, awaitingConfig: true, ...(saved ? { restoring: true } : {}) }, 'listening');
  if (saved) {
    apply(saved, true)
      .catch((e: unknown) => {
        if (!closed) log.warn({ stateDir: config.stateDir }, `the saved configuration could not be applied (${(e as Error).message}); the server waits for POST /configure`);
      })
      .finally(() => (restoring = false));
  }
  let closing: Promise<void> | null = null;
  return {
    port: listener.port,
    ready: Promise.resolve(),
    configured,
    close: () =>
      (closing ??= listener.close(async () => {
        closed = true;
        await (sessions ?? starting)?.close();
      })),
  };
}

/** The routes before configuration: /alive, /configure, and 503 `not_configured` for the rest. */
function waitingHandle(config: AwaitingConfig, startKey: (given: unknown) => boolean, configure: (body: unknown) => Promise<void>, restoring: () => boolean): RequestListener {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.get('/alive', (_req, res) => {
    if (restoring()) res.status(503).json({ status: 'not initialized' } satisfies AliveStarting);
    else res.json({ status: 'ok', version: VERSION } satisfies AliveReady);
  });
  const json = jsonBody({ limitBytes: config.maxBodyMb * 2 ** 20, timeoutMs: (config.bodyTimeoutSeconds ?? DEFAULTS.bodyTimeoutSeconds) * 1000 });
  app.post(
    '/configure',
    (req, _res, next) => next(startKey(req.get('x-session-api-key')) ? undefined : new ApiError('unauthorized', 'missing or wrong X-Session-API-Key header (the key the server was started with)')),
    json,
    (req, res, next) => {
      configure(req.body).then(() => void res.json({ status: 'ready' } satisfies ConfigureResult), next);
    },
  );
  app.use((_req, _res, next) => next(notConfigured()));
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const error = err instanceof ApiError ? err : (err as { status?: number } | null)?.status === 400 ? new ApiError('bad_request', (err as Error).message) : new ApiError('internal', `internal error: ${(err as Error)?.message}`);
    res.status(error.status).json(error.toBody());
  });
  return app;
}

/** After configuration: POST /configure answers 409 to either key (401 to neither); every other request goes to the sessions' routes. */
function configuredHandle(handle: RequestListener, startKey: (given: unknown) => boolean, newKey: (given: unknown) => boolean): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'POST' || (req.url ?? '').split('?')[0] !== '/configure') return handle(req, res);
    const key = req.headers['x-session-api-key'];
    const error = startKey(key) || newKey(key) ? alreadyConfigured() : new ApiError('unauthorized', 'missing or wrong X-Session-API-Key header');
    res.writeHead(error.status, { 'content-type': 'application/json; charset=utf-8', connection: 'close' }).end(JSON.stringify(error.toBody()));
    req.resume();
  };
}

/** A /configure body, checked: the schema, then no reserved variable. Throws the 400. */
function checkedRequest(body: unknown): ConfigureRequest {
  const parsed = ConfigureRequest.safeParse(body);
  if (!parsed.success) throw validationError(parsed.error, '');
  const req = parsed.data;
  const reserved = Object.keys(req.environment ?? {}).filter((name) => PRIVATE_ENV.includes(name));
  if (reserved.length) {
    const issues = reserved.map((name) => ({ path: `environment.${name}`, message: "is the server's own variable and cannot be set" }));
    throw new ApiError('bad_request', issues.map((i) => `${i.path}: ${i.message}`).join('; '), { issues });
  }
  return req;
}

/**
 * The body a configured server saved in `stateDir`, checked as a /configure body is; undefined
 * when there is none, or (with a warning naming the problem, never a value) when it is not to be
 * trusted: the server then waits for POST /configure as if never configured.
 */
function savedRequest(stateDir: string, startKey: string | undefined, log: Logger): ConfigureRequest | undefined {
  const found = loadConfigured(stateDir, startKey);
  if (found.kind === 'none') return undefined;
  if (found.kind === 'refused') {
    log.warn({ stateDir }, `the saved configuration is not used: ${found.reason}; the server waits for POST /configure`);
    return undefined;
  }
  try {
    return checkedRequest(found.body);
  } catch (e) {
    const paths = ((e as ApiError).details as { issues?: { path: string }[] } | undefined)?.issues?.map((i) => i.path || 'body') ?? [];
    log.warn({ stateDir }, `the saved configuration is not used: it is not a valid /configure body (${paths.join(', ')}); the server waits for POST /configure`);
    return undefined;
  }
}

const refuseUpgrade: UpgradeHandler = (_req, socket) => rejectUpgrade(socket, 503, 'Service Unavailable', notConfigured().toBody());

const notConfigured = () => new ApiError('not_configured', 'the server waits for POST /configure (it was started with --await-config); only GET /alive answers until then');
const alreadyConfigured = () => new ApiError('already_configured', 'the server is already configured (or being configured): POST /configure is taken once');

/**
 * Waits for the default session, at most `seconds` (--shell-start-timeout): a shell that never
 * reaches its prompt (an image's rc file that hangs) must not hold /configure, and with it the
 * server, forever.
 */
async function readyWithin(ready: Promise<void>, seconds: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`the default session did not reach its first prompt within ${seconds} s (--shell-start-timeout)`)), seconds * 1000);
  });
  try {
    await Promise.race([ready, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A failed configuration as the route answers it: a setting's mistake is a 400 naming its field. */
function configureError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof UsageError) {
    const path = e.field ?? '';
    return new ApiError('bad_request', e.message, { issues: [{ path, message: e.message }] });
  }
  if (e instanceof UserSetupError) return new ApiError('internal', `the user could not be created: ${e.message}`);
  return new ApiError('internal', `the session could not start: ${(e as Error)?.message ?? String(e)}`);
}
