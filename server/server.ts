// Starting and stopping one runtime-client server: sessions, actions, HTTP and WS on one port.
// The sessions and their routes (startSessions) are apart from the listening socket (listen), so
// that a server started with --await-config binds its port first and gets its sessions later.
import { createServer, type RequestListener, type Server } from 'node:http';
import { rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { ActionStore } from './actions/store.js';
import { Executor } from './actions/executor.js';
import { FileActions } from './actions/files/index.js';
import { createApp } from './http/app.js';
import { keyChecker } from './http/auth.js';
import { webSocketUpgrade, type UpgradeHandler } from './http/ws.js';
import { DEFAULT_SESSION, SessionPool } from './shell/pool.js';
import { rcScript } from './shell/marks.js';
import { SpillFiles, removeSpillOf } from './shell/spill.js';
import { sessionInitPath } from './shell/init.js';
import { DRIVER_FILE, driverSource } from './ipython/driver-path.js';
import { DEFAULTS, type ServerConfig } from './config.js';
import type { Logger } from './logger.js';
import { makeRuntimeDir } from './runtime-dir.js';
import { currentUser, lookupUser } from './users.js';
import { VERSION } from './version.js';
import { UsageError } from './errors.js';

export interface RunningServer {
  /** The port actually bound (useful with port 0). */
  port: number;
  /** Resolves when the default session is ready (and /alive answers 200). */
  ready: Promise<void>;
  /** Stops accepting, ends every session's processes, removes the runtime dir. */
  close(): Promise<void>;
}

/** Variables the shell must not inherit from the server (and that /configure may not set). */
export const PRIVATE_ENV: readonly string[] = ['SESSION_API_KEY', 'NO_CHANGE_TIMEOUT_SECONDS', 'MAX_OUTPUT_CHARS', 'RUNTIME_CLIENT_BUILD_VERSION', 'RUNTIME_CLIENT_STATE_DIR'];

/** Starts a server: its sessions, then its port. */
export async function startServer(config: ServerConfig, log: Logger): Promise<RunningServer> {
  const sessions = startSessions(config, log);
  let listener: Listener;
  try {
    listener = await listen(config, sessions.handle, sessions.upgrade);
  } catch (e) {
    await sessions.close();
    throw e;
  }
  log.info({ host: config.host, port: listener.port, version: VERSION, workingDir: config.workingDir, user: sessions.user }, 'listening');
  let closing: Promise<void> | null = null;
  return {
    port: listener.port,
    ready: sessions.ready,
    close: () => (closing ??= listener.close(() => sessions.close())),
  };
}

/** One bound port whose request and upgrade handlers can be swapped without closing it. */
export interface Listener {
  server: Server;
  port: number;
  /** Hands the port's requests and upgrades to other handlers from now on. */
  use(handle: RequestListener, upgrade: UpgradeHandler): void;
  /** Stops accepting, drops every connection, then runs `after` (ending the sessions). */
  close(after: () => Promise<void>): Promise<void>;
}

/** Binds config.host:config.port and serves it with `handle` and `upgrade` (until `use` swaps them). */
export async function listen(config: Pick<ServerConfig, 'host' | 'port'>, handle: RequestListener, upgrade: UpgradeHandler): Promise<Listener> {
  let current = { handle, upgrade };
  const server: Server = createServer((req, res) => current.handle(req, res));
  server.on('upgrade', (req, socket, head) => current.upgrade(req, socket, head));
  server.keepAliveTimeout = 65_000;
  // No cap on a whole request: a large upload on a slow link may take longer than Node's default
  // 300 s. Bodies have their own limits instead: JSON must arrive within --body-timeout, an
  // upload must keep a minimum rate (server/files/receive.ts); headers within 60 s as by default.
  server.requestTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    use: (h, u) => void (current = { handle: h, upgrade: u }),
    close: async (after) => {
      server.close();
      server.closeAllConnections();
      await after();
    },
  };
}

/** A server's sessions and the handlers of its routes, not yet bound to a port. */
export interface Sessions {
  /** The express app: every HTTP route. */
  handle: RequestListener;
  /** The /ws endpoint. */
  upgrade: UpgradeHandler;
  /** Resolves when the default session is ready; rejects when its shell cannot start. */
  ready: Promise<void>;
  /** The session user's name. */
  user: string;
  /** Ends every socket and session process, removes the runtime dir. */
  close(): Promise<void>;
}

/**
 * Starts the sessions of a server: the runtime dir, the default session's shell, the executor
 * and the routes. `environment` is laid over the server's own for the shells and kernels.
 */
export function startSessions(config: ServerConfig, log: Logger, environment: Record<string, string> = {}): Sessions {
  const user = config.username ? lookupUser(config.username) : currentUser();
  const switching = user.uid !== process.getuid?.();
  if (switching && process.getuid?.() !== 0) {
    throw new UsageError(`--username ${user.name} needs the server to run as root (it runs as uid ${process.getuid?.()})`);
  }
  if (switching) (process as unknown as { initgroups(u: string, g: number): void }).initgroups(user.name, user.gid); // sessions get the user's groups, not root's

  const runtimeDir = makeRuntimeDir(config.workingDir, log); // mode 0711, in any image (even one without /tmp)
  // One rc file for every shell; it holds no secret (marks.ts), and only the server can write it.
  const rcPath = join(runtimeDir, 'bashrc');
  writeFileSync(rcPath, rcScript(), { mode: 0o644, flag: 'wx' });
  const initPath = sessionInitPath();
  if (!initPath) log.warn('session-init was not found beside the server: processes a session moves out of its session (setsid) will outlive it');
  const spills = new SpillFiles(config.maxSpillMb * 2 ** 20);
  // The IPython cell driver, where every session user can read it (the bundle may not be readable).
  const driver = driverSource();
  const driverPath = driver === undefined ? undefined : join(runtimeDir, DRIVER_FILE);
  if (driverPath) writeFileSync(driverPath, driver!, { mode: 0o644, flag: 'wx' });
  else log.warn(`${DRIVER_FILE} was not found beside the server: run_ipython answers an error`);

  const env = sessionEnv({ ...process.env, ...environment }, user, switching);
  const pool = new SessionPool({
    shell: config.shell,
    cwd: config.workingDir,
    env,
    user: switching ? user : undefined,
    runtimeDir,
    rcPath,
    initPath,
    driverPath,
    spills,
    maxSessions: config.maxSessions,
    startTimeoutMs: config.shellStartTimeoutSeconds * 1000,
    onEvict: (name) => log.info({ session: name, maxSessions: config.maxSessions }, 'session ended to make room (it was idle longest)'),
    noChangeTimeoutSeconds: config.noChangeTimeoutSeconds,
    maxOutputChars: config.maxOutputChars,
    username: user.name,
    hostname: hostname(),
  });
  const files = new FileActions(switching ? { uid: user.uid, gid: user.gid, groups: [...new Set([user.gid, ...(process.getgroups?.() ?? [])])] } : undefined);
  // A result leaving the store takes its spill file with it.
  const store = new ActionStore({
    maxBytes: config.maxResultsMb * 2 ** 20,
    maxOutputBytes: (config.maxResultsMb / 2) * 2 ** 20,
    onEvict: removeSpillOf(spills),
  });
  const executor = new Executor(pool, store, log, files);
  const checkKey = keyChecker(config.apiKey);
  if (!config.apiKey) log.warn('SESSION_API_KEY is not set: every route is open to anyone who can reach the port');
  if (!switching) log.warn({ user: user.name }, "the shells run as the server's own user: the sandbox user can reach the server (signal it, trace it, read its memory); --username keeps them apart");

  let isReady = false;
  const app = createApp({
    executor,
    pool,
    log,
    version: VERSION,
    workingDir: config.workingDir,
    maxBodyMb: config.maxBodyMb,
    maxUploadMb: config.maxUploadMb,
    maxUnpackedMb: config.maxUnpackedMb,
    bodyTimeoutMs: (config.bodyTimeoutSeconds ?? DEFAULTS.bodyTimeoutSeconds) * 1000,
    fileOwner: switching ? { uid: user.uid, gid: user.gid } : undefined,
    checkKey,
    isReady: () => isReady,
  });
  const { wss, upgrade } = webSocketUpgrade({ executor, log, checkKey, maxBodyMb: config.maxBodyMb });

  const defaultSession = pool.get(DEFAULT_SESSION);
  const ready = defaultSession.ready.then(() => {
    isReady = true;
    log.info({ shellPid: defaultSession.pid }, 'default session ready');
  });
  ready.catch((err) => log.error({ err }, 'the default session could not start'));
  const slowStart = setTimeout(
    () => log.warn({ seconds: config.shellStartTimeoutSeconds }, 'the default session is still starting (its rc files are slow); /alive answers 503 until it is ready'),
    config.shellStartTimeoutSeconds * 1000,
  );
  slowStart.unref();
  ready.finally(() => clearTimeout(slowStart)).catch(() => {});

  let closing: Promise<void> | null = null;
  return {
    handle: app,
    upgrade,
    ready,
    user: user.name,
    close: () =>
      (closing ??= (async () => {
        for (const client of wss.clients) client.terminate();
        await pool.closeAll();
        rmSync(runtimeDir, { recursive: true, force: true });
      })()),
  };
}

/** The shell's environment: the server's, minus its secrets, with sane terminal defaults. */
function sessionEnv(parent: NodeJS.ProcessEnv, user: { name: string; home: string }, switching: boolean): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(parent)) if (v !== undefined && !PRIVATE_ENV.includes(k)) env[k] = v;
  // Another user gets their own identity; the server's own user keeps the HOME it was given.
  if (switching || !env.HOME) env.HOME = user.home;
  if (switching || !env.USER) env.USER = env.LOGNAME = user.name;
  env.TERM ??= 'xterm-256color';
  env.PAGER = 'cat';
  env.GIT_PAGER = 'cat';
  if (!env.LANG && !env.LC_ALL) env.LANG = 'C.UTF-8';
  return env;
}
