// `runtime-client run`: start a runtime container, print where it listens, stay attached until a
// signal, then stop and remove it (like `docker run --rm` in the foreground).
import { getBackend, RuntimeError, type ProgressEvent } from '@runtime-client/client';
import { UsageError } from './errors.js';
import { withFlags } from './flags.js';

const USAGE = `Usage: runtime-client run --base-image IMG [--session-id ID] [--mode build|mount] [-e KEY=VALUE]...

Starts runtime-client in a container of IMG (a local image) on the Docker engine, prints its
session id, container id, URL and API key on stdout (progress goes to stderr), and stays
attached. Ctrl-C (SIGINT) or SIGTERM stops and removes the container; so does the container going
away (exit status 1 then). The server is published on 127.0.0.1 only. With --api URL it asks a
runtime API service instead: see \`runtime-client run --api URL --help\`.
  --base-image IMG     the image to inject runtime-client into (required)
  --session-id ID      names the container runtime-client-ID: 1-63 of A-Z a-z 0-9 _ . -
                       (default: 12 random hex digits)
  --mode build|mount   build: a cached injected image, the one \`runtime-client build\` makes;
                       mount: IMG itself with the bundle bind-mounted read-only (default: build)
  -e, --env KEY=VALUE  environment for the server and its shells, repeatable (default: none)
  -h, --help           this help
`;

/** How often the attached command checks that its container is still there, in ms. */
const WATCH_INTERVAL_MS = 2000;

export function runCommand(argv: string[]): Promise<number> {
  const options = {
    'base-image': { type: 'string' },
    'session-id': { type: 'string' },
    mode: { type: 'string' },
    env: { type: 'string', short: 'e', multiple: true },
  } as const;
  return withFlags({ name: 'run', usage: USAGE, options }, argv, async ({ values }) => {
    const baseImage = values['base-image'];
    if (!baseImage) throw new UsageError('run needs --base-image IMG');
    const mode = values.mode;
    if (mode !== undefined && mode !== 'build' && mode !== 'mount') throw new UsageError(`--mode must be build or mount, got ${JSON.stringify(mode)}`);
    const env = parseEnv(values.env ?? []);
    return attached(baseImage, values['session-id'], mode, env);
  });
}

async function attached(baseImage: string, sessionId: string | undefined, mode: 'build' | 'mount' | undefined, env: Record<string, string>): Promise<number> {
  // A signal during the start (a build can take minutes) is kept and acted on once we hold the runtime.
  let stopSignal: NodeJS.Signals | null = null;
  let started = false;
  let wake: () => void = () => {};
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopSignal) {
      process.stderr.write(`runtime-client: ${signal} again, leaving without waiting for the container\n`);
      process.exit(130);
    }
    stopSignal = signal;
    if (!started) process.stderr.write(`${signal}: the runtime is removed as soon as it has started (again to leave now)\n`);
    wake();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const docker = getBackend('docker');
  let runtime;
  try {
    runtime = await docker.start({ baseImage, sessionId, env, mode, onProgress: printProgress });
  } catch (e) {
    if (e instanceof TypeError) throw new UsageError(e.message);
    throw e;
  }
  started = true;
  process.stdout.write(`session    ${runtime.sessionId}\ncontainer  ${runtime.id.slice(0, 12)}\nurl        ${runtime.url}\nkey        ${runtime.apiKey}\n`);
  process.stderr.write(
    `attached: Ctrl-C stops and removes ${runtime.name}. Try:\n` +
      `  runtime-client exec --url ${runtime.url} --key ${runtime.apiKey} -- 'echo hi'\n`,
  );

  let gone: string | null = null;
  const watcher = setInterval(() => {
    void docker.info(runtime.id).then(
      (info) => {
        if (info.state === 'running' || info.state === 'paused') return;
        gone = `container ${runtime.name} is ${info.engineState}`;
        wake();
      },
      (e: unknown) => {
        if (!(e instanceof RuntimeError && e.code === 'not_found')) return; // the engine hiccuped; look again next time
        gone = `container ${runtime.name} was removed`;
        wake();
      },
    );
  }, WATCH_INTERVAL_MS);
  await new Promise<void>((resolve) => {
    wake = resolve;
    if (stopSignal) resolve();
  });
  clearInterval(watcher);

  if (gone) process.stderr.write(`runtime-client: ${gone}\n`);
  else process.stderr.write(`${stopSignal}: stopping and removing ${runtime.name}\n`);
  await runtime.stop({ remove: true });
  return gone ? 1 : 0;
}

function printProgress(event: ProgressEvent): void {
  process.stderr.write(`[${(event.elapsedMs / 1000).toFixed(1).padStart(5)} s] ${event.phase}: ${event.message}\n`);
}

function parseEnv(pairs: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at < 1) throw new UsageError(`--env takes KEY=VALUE, got ${JSON.stringify(pair)}`);
    env[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return env;
}
