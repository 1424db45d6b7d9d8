// The sandbox binary's command line: serve (the default), or `probe` for health checks. Nothing
// of the host's (run, exec, Docker) is here: the host CLI (cli/) hands its serve and probe calls
// to runServerCommand.
import { readFileSync } from 'node:fs';
import { createServer, isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { MAX_USER_ID, parseUserId } from '@runtime-client/protocol';
import { DEFAULTS, LOG_LEVELS, defaultPort, envNumber, envSeconds, logLevelOf, portOf, positiveFlag, secondsFlag, type ServerConfig } from './config.js';
import { ServerError, UsageError } from './errors.js';
import { FLAG_NAMES, checkSessionRequest, settleSession, type SessionRequest } from './session-settings.js';
import type { AwaitingConfig } from './await-config.js';
import { stateDirOf } from './configured-state.js';
import { hideSecrets } from './secrets.js';
import { VERSION } from './version.js';

/** `runtime-client --help` inside the sandbox: the server's own commands and flags only. */
export const SERVER_HELP = `runtime-client ${VERSION}: the in-sandbox action execution server

Usage:
  runtime-client [options]           serve the protocol (HTTP + WebSocket)
  runtime-client probe [--port N] [--host ADDR]
                                     exit 0 iff /alive answers 200 within 2 s (probe --help)
  runtime-client --help | --version

Options:
  --host ADDR           listen address (default ${DEFAULTS.host})
  --port N              listen port, 0 for any free one (default $RUNTIME_CLIENT_PORT or ${DEFAULTS.port})
  --working-dir DIR     where sessions start (default: the current directory); the session
                        user must be able to enter it
  --username NAME       run shells as this user, from /etc/passwd (the server must be root)
  --user-id N           with --username: create NAME with uid N when /etc/passwd lacks it (as
                        OpenHands' useradd: home /home/NAME, group NAME with gid N when free,
                        else 0). An existing NAME is kept (a warning if its uid differs).
                        Either way --working-dir is made when missing and handed to the user
                        (chown -R without following links or crossing file systems).
                        N: 0 to ${MAX_USER_ID}; needs root to create
  --await-config        bind the port and answer /alive 200 at once, start no shell, and wait
                        for one POST /configure (with this start's key) giving the new key,
                        environment, working_dir, username, user_id (the flags' values are
                        checked at start, a --user-id user made then, and serve as defaults);
                        every other route answers 503 not_configured until then, 409 after;
                        the configuration is saved (root-only) and a restarted server comes
                        back configured with it
  --shell PATH          bash to run (default /bin/bash, /usr/bin/bash, else the bundled static
                        bash); a name without a slash is looked up on PATH
  --log-level LEVEL     ${LOG_LEVELS.join(', ')} (default ${DEFAULTS.logLevel})
  --api-key-file FILE   read the API key from FILE instead of SESSION_API_KEY
  --max-body-mb N       JSON body limit in MiB (default ${DEFAULTS.maxBodyMb})
  --max-upload-mb N     upload_file limit in MiB (default ${DEFAULTS.maxUploadMb})
  --max-unpacked-mb N   what one uploaded archive may unpack to, in MiB (default ${DEFAULTS.maxUnpackedMb})
  --body-timeout N      seconds a JSON body has to arrive whole (default ${DEFAULTS.bodyTimeoutSeconds})
  --max-sessions N      named sessions at once; past it the one idle longest is ended (default ${DEFAULTS.maxSessions})
  --max-spill-mb N      disk for the whole outputs of truncated observations, in MiB (default ${DEFAULTS.maxSpillMb})
  --max-results-mb N    memory for finished results kept for replay, in MiB; the oldest go first (default ${DEFAULTS.maxResultsMb})
  --shell-start-timeout N
                        seconds an action waits for a new shell's first prompt; a slower shell is
                        left running and the action says so (default ${DEFAULTS.shellStartTimeoutSeconds})
  -h, --help            show this help
  -v, --version         print the version

Environment:
  RUNTIME_CLIENT_PORT          default for --port (injected images set it)
  SESSION_API_KEY              key required in X-Session-API-Key (unset: open, with a warning);
  NO_CHANGE_TIMEOUT_SECONDS    soft timeout for commands without new output (default ${DEFAULTS.noChangeTimeoutSeconds})
  MAX_OUTPUT_CHARS             output longer than this is truncated (default ${DEFAULTS.maxOutputChars})
  RUNTIME_CLIENT_STATE_DIR     with --await-config: where the configuration is saved for a restart
                               (an absolute path; default /run/runtime-client)

Exit status: 2 when a flag or environment value is wrong (the message names it; nothing was
started), 1 when the server cannot start for another reason (the port is in use), 0 after
SIGTERM or SIGINT.
`;

/** `runtime-client probe --help`. */
export const PROBE_HELP = `Usage: runtime-client probe [--port N] [--host ADDR]

Asks the server's /alive once: exits 0 when it answers 200 within 2 s, 1 otherwise (a health
check for Docker's HEALTHCHECK or a Kubernetes exec probe).
  --port N      the server's port (default $RUNTIME_CLIENT_PORT, else ${DEFAULTS.port})
  --host ADDR   the server's address (default 127.0.0.1)
  -h, --help    show this help
`;

async function probe(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { port: { type: 'string' }, host: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) return void process.stdout.write(PROBE_HELP), 0;
  const port = portOf(values.port, defaultPort());
  try {
    const res = await fetch(`http://${values.host ?? '127.0.0.1'}:${port}/alive`, { signal: AbortSignal.timeout(2000) });
    return res.status === 200 ? 0 : 1;
  } catch {
    return 1;
  }
}

const SERVE_OPTIONS = {
  host: { type: 'string' },
  port: { type: 'string' },
  'working-dir': { type: 'string' },
  username: { type: 'string' },
  'user-id': { type: 'string' },
  'await-config': { type: 'boolean' },
  shell: { type: 'string' },
  'log-level': { type: 'string' },
  'api-key-file': { type: 'string' },
  'max-body-mb': { type: 'string' },
  'max-upload-mb': { type: 'string' },
  'max-unpacked-mb': { type: 'string' },
  'body-timeout': { type: 'string' },
  'max-sessions': { type: 'string' },
  'max-spill-mb': { type: 'string' },
  'max-results-mb': { type: 'string' },
  'shell-start-timeout': { type: 'string' },
} as const;

type ServeFlags = ReturnType<typeof parseArgs<{ options: typeof SERVE_OPTIONS }>>['values'];

/** The server's settings from its flags and environment, the session's aside. Every mistake is a UsageError (exit 2) naming the flag or variable. */
function readBase(values: ServeFlags, env: NodeJS.ProcessEnv = process.env): Omit<ServerConfig, 'workingDir' | 'username' | 'shell'> {
  return {
    host: hostOf(values.host),
    port: portOf(values.port, defaultPort(env)),
    logLevel: logLevelOf(values['log-level'], DEFAULTS.logLevel),
    apiKey: values['api-key-file'] === undefined ? env.SESSION_API_KEY || undefined : keyFromFile(values['api-key-file']),
    noChangeTimeoutSeconds: envSeconds(env, 'NO_CHANGE_TIMEOUT_SECONDS', DEFAULTS.noChangeTimeoutSeconds),
    maxOutputChars: envNumber(env, 'MAX_OUTPUT_CHARS', DEFAULTS.maxOutputChars, { integer: true }),
    maxBodyMb: positiveFlag('max-body-mb', values['max-body-mb'], DEFAULTS.maxBodyMb),
    maxUploadMb: positiveFlag('max-upload-mb', values['max-upload-mb'], DEFAULTS.maxUploadMb),
    maxUnpackedMb: positiveFlag('max-unpacked-mb', values['max-unpacked-mb'], DEFAULTS.maxUnpackedMb),
    bodyTimeoutSeconds: secondsFlag('body-timeout', values['body-timeout'], DEFAULTS.bodyTimeoutSeconds),
    maxSessions: positiveFlag('max-sessions', values['max-sessions'], DEFAULTS.maxSessions, true),
    maxSpillMb: positiveFlag('max-spill-mb', values['max-spill-mb'], DEFAULTS.maxSpillMb),
    maxResultsMb: positiveFlag('max-results-mb', values['max-results-mb'], DEFAULTS.maxResultsMb),
    shellStartTimeoutSeconds: secondsFlag('shell-start-timeout', values['shell-start-timeout'], DEFAULTS.shellStartTimeoutSeconds),
  };
}

/** --working-dir, --username, --user-id and --shell as given, their shapes checked. */
function sessionFlags(values: ServeFlags): SessionRequest {
  const req: SessionRequest = { workingDir: values['working-dir'], username: values.username, userId: userIdOf(values['user-id']), shell: values.shell };
  checkSessionRequest(req, FLAG_NAMES);
  return req;
}

/** A --user-id value: a whole number from 0 to 2^31-2. */
function userIdOf(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const id = parseUserId(raw.trim());
  if (id === undefined) throw new UsageError(`--user-id must be an integer from 0 to ${MAX_USER_ID}, got ${JSON.stringify(raw)}`, '--user-id');
  return id;
}

function hostOf(raw: string | undefined): string {
  if (raw === undefined) return DEFAULTS.host;
  // An IP address (v4 or v6) or a host name: letters, digits, dots, dashes (and underscores, as Docker's service names have).
  if (isIP(raw) || /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,252}$/.test(raw)) return raw;
  throw new UsageError(`--host must be an IP address or a host name, got ${JSON.stringify(raw)}`);
}

function keyFromFile(file: string): string {
  let key: string;
  try {
    key = readFileSync(file, 'utf8').trim();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'cannot be read (permission denied)' : `cannot be read (${code ?? (e as Error).message})`;
    throw new UsageError(`--api-key-file ${file} ${why}`);
  }
  // An empty key would leave every route open: that must be asked for by giving no key at all.
  if (!key) throw new UsageError(`--api-key-file ${file} is empty (to serve without a key, give neither --api-key-file nor SESSION_API_KEY)`);
  return key;
}

/**
 * Binds --host and --port once and lets go, so that a wrong address or a port in use is said
 * before the server makes its runtime files and starts its first shell.
 */
async function checkListen(config: Pick<ServerConfig, 'host' | 'port'>): Promise<void> {
  const probe = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen({ port: config.port, host: config.host, exclusive: true }, () => resolve());
    });
  } catch (e) {
    throw listenError(e, config);
  }
  await new Promise<void>((resolve) => probe.close(() => resolve()));
}

/** A listen error as the server says it: the --host's fault is a usage error (exit 2); a port in use or denied a start-up fault (exit 1). */
function listenError(e: unknown, config: Pick<ServerConfig, 'host' | 'port'>): unknown {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME') {
    return new UsageError(`--host ${config.host}: cannot listen there (${code}: no such address on this machine)`);
  }
  if (code === 'EADDRINUSE') return new ServerError('port_in_use', `port ${config.port} on ${config.host} is already in use (--port N picks another, 0 any free one)`);
  if (code === 'EACCES') return new ServerError('port_denied', `port ${config.port} needs more privileges than the server has (ports below 1024 need root); --port N picks another`);
  return e;
}

async function serve(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: SERVE_OPTIONS });
  const base = readBase(values);
  const session = sessionFlags(values);
  // --await-config: where a /configure is saved for a restart (RUNTIME_CLIENT_STATE_DIR; a bad one exits 2).
  const stateDir = values['await-config'] ? stateDirOf() : undefined;
  await checkListen(base);
  // The session user is created (--user-id) before anything else starts, with --await-config too
  // (a /configure for the same user then finds it made); the working dir and shell are then
  // checked as that user meets them.
  let settled: ReturnType<typeof settleSession>;
  try {
    settled = settleSession(session, FLAG_NAMES);
  } catch (e) {
    throw (e as { code?: string }).code === 'user_setup' ? new ServerError('user_setup', `--user-id: ${(e as Error).message}`) : e;
  }
  const secretWarnings = hideSecrets(); // the key is read: out of process.env and /proc/<pid>/environ
  // Loaded here, not at the top, so `probe` (a health check run every few seconds) stays cheap.
  const { createLogger } = await import('./logger.js');
  const log = createLogger(base.logLevel);
  for (const warning of secretWarnings) log.warn(warning);
  for (const warning of settled.user?.warnings ?? []) log.warn(warning);
  if (settled.user?.created) log.info({ user: settled.user.name, uid: settled.user.uid, gid: settled.user.gid }, 'user created');
  let server: { close(): Promise<void> };
  if (values['await-config']) {
    const { startAwaiting } = await import('./await-config.js');
    server = await startAwaiting({ ...base, session, stateDir } satisfies AwaitingConfig, log).catch((e: unknown) => {
      throw listenError(e, base);
    });
  } else {
    const { startServer } = await import('./server.js');
    const config: ServerConfig = { ...base, workingDir: settled.workingDir, username: settled.username, shell: settled.shell };
    server = await startServer(config, log).catch((e: unknown) => {
      throw listenError(e, config);
    });
  }
  stopOnSignals(server, log);
}

function stopOnSignals(server: { close(): Promise<void> }, log: { info(o: object, msg: string): void }): void {
  const stop = (signal: string) => {
    log.info({ signal }, 'shutting down');
    setTimeout(() => process.exit(0), 4000).unref();
    server.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

/** Runs `runtime-client [serve flags] | probe | --help | --version` inside the sandbox. */
export async function runServerCommand(argv: string[]): Promise<void> {
  if (argv[0] === 'probe') process.exit(await probe(argv.slice(1)));
  if (argv.includes('-h') || argv.includes('--help')) return void process.stdout.write(SERVER_HELP);
  if (argv.includes('-v') || argv.includes('--version')) return void process.stdout.write(VERSION + '\n');
  await serve(argv);
}

/** How a failed command ends the process: 2 and a pointer to --help for a usage error, else 1. */
export function exitOnError(e: Error): never {
  const usage = e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
  process.stderr.write(`runtime-client: ${e.message}\n${usage ? "Try 'runtime-client --help'.\n" : ''}`);
  process.exit(usage ? 2 : 1);
}
