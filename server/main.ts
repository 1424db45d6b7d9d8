// The sandbox binary's command line: serve (the default), or `probe` for health checks. Nothing
// of the host's (run, exec, Docker) is here: the host CLI (cli/) hands its serve and probe calls
// to runServerCommand.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULTS, defaultPort, defaultShell, envNumber, portOf, positiveFlag, type ServerConfig } from './config.js';
import { UsageError } from './errors.js';
import { hideSecrets } from './secrets.js';
import { VERSION } from './version.js';

/** `runtime-client --help` inside the sandbox: the server's own commands and flags only. */
export const SERVER_HELP = `runtime-client ${VERSION}: the in-sandbox action execution server

Usage:
  runtime-client [options]           serve the protocol (HTTP + WebSocket)
  runtime-client probe [--port N]    exit 0 iff /alive answers 200 within 2 s
  runtime-client --help | --version

Options:
  --host ADDR           listen address (default ${DEFAULTS.host})
  --port N              listen port, 0 for any free one (default $RUNTIME_CLIENT_PORT or ${DEFAULTS.port})
  --working-dir DIR     where sessions start (default: the current directory)
  --username NAME       run shells as this user (server must be root)
  --shell PATH          bash to run (default /bin/bash, else the bundled static bash)
  --log-level LEVEL     trace, debug, info, warn, error (default ${DEFAULTS.logLevel})
  --api-key-file FILE   read the API key from FILE instead of SESSION_API_KEY
  --max-body-mb N       JSON body limit in MiB (default ${DEFAULTS.maxBodyMb})
  --max-upload-mb N     upload_file limit in MiB (default ${DEFAULTS.maxUploadMb})
  --max-unpacked-mb N   what one uploaded archive may unpack to, in MiB (default ${DEFAULTS.maxUnpackedMb})
  --body-timeout N      seconds a JSON body has to arrive whole (default ${DEFAULTS.bodyTimeoutSeconds})
  --max-sessions N      named sessions at once; past it the one idle longest is ended (default ${DEFAULTS.maxSessions})
  --max-spill-mb N      disk for the whole outputs of truncated observations, in MiB (default ${DEFAULTS.maxSpillMb})
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
`;


async function probe(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { port: { type: 'string' }, host: { type: 'string' } } });
  const port = portOf(values.port, defaultPort());
  try {
    const res = await fetch(`http://${values.host ?? '127.0.0.1'}:${port}/alive`, { signal: AbortSignal.timeout(2000) });
    return res.status === 200 ? 0 : 1;
  } catch {
    return 1;
  }
}

async function serve(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      'working-dir': { type: 'string' },
      username: { type: 'string' },
      shell: { type: 'string' },
      'log-level': { type: 'string' },
      'api-key-file': { type: 'string' },
      'max-body-mb': { type: 'string' },
      'max-upload-mb': { type: 'string' },
      'max-unpacked-mb': { type: 'string' },
      'body-timeout': { type: 'string' },
      'max-sessions': { type: 'string' },
      'max-spill-mb': { type: 'string' },
      'shell-start-timeout': { type: 'string' },
    },
  });
  const env = process.env;
  const maxBodyMb = values['max-body-mb'] === undefined ? DEFAULTS.maxBodyMb : Number(values['max-body-mb']);
  if (!(maxBodyMb > 0)) throw new UsageError(`--max-body-mb must be a positive number, got ${JSON.stringify(values['max-body-mb'])}`);
  const maxUploadMb = values['max-upload-mb'] === undefined ? DEFAULTS.maxUploadMb : Number(values['max-upload-mb']);
  if (!(maxUploadMb > 0)) throw new UsageError(`--max-upload-mb must be a positive number, got ${JSON.stringify(values['max-upload-mb'])}`);
  const config: ServerConfig = {
    host: values.host ?? DEFAULTS.host,
    port: portOf(values.port, defaultPort()),
    workingDir: resolve(values['working-dir'] ?? process.cwd()),
    username: values.username,
    shell: values.shell ?? defaultShell(),
    logLevel: values['log-level'] ?? DEFAULTS.logLevel,
    apiKey: values['api-key-file'] ? readFileSync(values['api-key-file'], 'utf8').trim() : env.SESSION_API_KEY || undefined,
    noChangeTimeoutSeconds: envNumber(env, 'NO_CHANGE_TIMEOUT_SECONDS', DEFAULTS.noChangeTimeoutSeconds),
    maxOutputChars: Math.floor(envNumber(env, 'MAX_OUTPUT_CHARS', DEFAULTS.maxOutputChars)),
    maxBodyMb,
    maxUploadMb,
    maxUnpackedMb: positiveFlag('max-unpacked-mb', values['max-unpacked-mb'], DEFAULTS.maxUnpackedMb),
    bodyTimeoutSeconds: positiveFlag('body-timeout', values['body-timeout'], DEFAULTS.bodyTimeoutSeconds),
    maxSessions: positiveFlag('max-sessions', values['max-sessions'], DEFAULTS.maxSessions, true),
    maxSpillMb: positiveFlag('max-spill-mb', values['max-spill-mb'], DEFAULTS.maxSpillMb),
    shellStartTimeoutSeconds: positiveFlag('shell-start-timeout', values['shell-start-timeout'], DEFAULTS.shellStartTimeoutSeconds),
  };
  const secretWarnings = hideSecrets(); // the key is read: out of process.env and /proc/<pid>/environ
  // Loaded here, not at the top, so `probe` (a health check run every few seconds) stays cheap.
  const [{ createLogger }, { startServer }] = await Promise.all([import('./logger.js'), import('./server.js')]);
  const log = createLogger(config.logLevel);
  for (const warning of secretWarnings) log.warn(warning);
  const server = await startServer(config, log);
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
  if (argv.includes('-h') || argv.includes('--help')) return void process.stdout.write(SERVER_HELP);
  if (argv.includes('-v') || argv.includes('--version')) return void process.stdout.write(VERSION + '\n');
  if (argv[0] === 'probe') process.exit(await probe(argv.slice(1)));
  await serve(argv);
}

/** How a failed command ends the process: 2 and a pointer to --help for a usage error, else 1. */
export function exitOnError(e: Error): never {
  const usage = e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
  process.stderr.write(`runtime-client: ${e.message}\n${usage ? "Try 'runtime-client --help'.\n" : ''}`);
  process.exit(usage ? 2 : 1);
}
