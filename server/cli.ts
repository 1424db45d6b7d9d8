#!/usr/bin/env -S node --max-semi-space-size=2
// `runtime-client`: serve (the default), or `probe` for health checks.
// The semi-space cap keeps the young generation small: a command printing gigabytes makes
// short-lived strings, and a large young generation shows up as ~50 MB more RSS.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULTS, defaultPort, defaultShell, envNumber, portOf, positiveFlag, type ServerConfig } from './config.js';
import { UsageError } from './errors.js';
import { hideSecrets } from './secrets.js';
import { VERSION } from './version.js';

const HELP = `runtime-client ${VERSION}: an action execution server for sandboxes

Usage:
  runtime-client [options]           serve the protocol (HTTP + WebSocket)
  runtime-client probe [--port N]    exit 0 iff /alive answers 200 within 2 s
  runtime-client dockerfile --base-image IMG [--port N] [--user U] [--workdir DIR]
                                     print the Dockerfile that injects runtime-client into IMG
  runtime-client build --base-image IMG [--tag T] [--force]
                                     build (or reuse) that image with the Docker engine
  runtime-client docker-args --base-image IMG [--port N] [--json]
                                     print \`docker run\` arguments for mount mode (no build)
  runtime-client run --base-image IMG [--session-id ID] [--mode build|mount] [-e K=V]...
                                     start a runtime container, print its URL and key, stay
                                     attached; Ctrl-C stops and removes it
  runtime-client exec [--url URL] [--key KEY] [--session S] [--timeout SECONDS] -- 'command'
                                     run a command on a server, streaming its output; exit
                                     with its status (124: timed out, 125: not run)
  runtime-client ps [--json | -q]    list the runtime containers
  runtime-client stop ID...          stop and remove runtime containers
  runtime-client COMMAND --help      a command's own options

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
                               for exec, the key to send when --key is not given
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

async function main(argv: string[]): Promise<void> {
  // Host-side commands first: their arguments (`exec -- 'grep -v x'`) are not the server's flags.
  if (argv[0] === 'run' || argv[0] === 'exec' || argv[0] === 'ps' || argv[0] === 'stop') {
    const { runClientCommand } = await import('../client/cli/index.js');
    process.exit(await runClientCommand(argv[0], argv.slice(1)));
  }
  if (argv.includes('-h') || argv.includes('--help')) return void process.stdout.write(HELP);
  if (argv.includes('-v') || argv.includes('--version')) return void process.stdout.write(VERSION + '\n');
  if (argv[0] === 'probe') process.exit(await probe(argv.slice(1)));
  if (argv[0] === 'dockerfile' || argv[0] === 'build' || argv[0] === 'docker-args') {
    const { runDockerCommand } = await import('../dockerfiles/cli.js');
    process.exit(await runDockerCommand(argv[0], argv.slice(1)));
  }
  await serve(argv);
}

main(process.argv.slice(2)).catch((e: Error) => {
  const usage = e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
  process.stderr.write(`runtime-client: ${e.message}\n${usage ? "Try 'runtime-client --help'.\n" : ''}`);
  process.exit(usage ? 2 : 1);
});
