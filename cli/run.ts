// `runtime-client run`: start a runtime container, print where it listens, stay attached until a
// signal, then stop and remove it (like `docker run --rm` in the foreground).
import { parseArgs } from 'node:util';
import { UsageError } from './errors.js';
import { envOf, inspect } from '@runtime-client/client';
import { DockerRuntime, type ProgressEvent } from '@runtime-client/client';

const USAGE = `Usage: runtime-client run --base-image IMG [--session-id ID] [--mode build|mount] [-e KEY=VALUE]...

Starts runtime-client in a container of IMG (a local image), prints its session id, URL and API
key on stdout (progress goes to stderr), and stays attached. Ctrl-C (SIGINT) or SIGTERM stops
and removes the container; so does the container going away (exit status 1 then).
  --base-image IMG     the image to inject runtime-client into
  --session-id ID      names the container runtime-client-ID (default: random)
  --mode build|mount   build a cached injected image (default) or bind-mount the bundle
  -e, --env KEY=VALUE  environment for the server and its shells (repeatable)
`;

/** How often the attached command checks that its container is still there, in ms. */
const WATCH_INTERVAL_MS = 2000;

export async function runCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'base-image': { type: 'string' },
      'session-id': { type: 'string' },
      mode: { type: 'string' },
      env: { type: 'string', short: 'e', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void process.stdout.write(USAGE), 0;
  const baseImage = values['base-image'];
  if (!baseImage) throw new UsageError('run needs --base-image IMG');
  const mode = values.mode;
  if (mode !== undefined && mode !== 'build' && mode !== 'mount') throw new UsageError(`--mode must be build or mount, got ${JSON.stringify(mode)}`);

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

  const runtime = await DockerRuntime.start({ baseImage, sessionId: values['session-id'], env: parseEnv(values.env ?? []), mode, onProgress: printProgress });
  started = true;
  const apiKey = await apiKeyOf(runtime);
  process.stdout.write(`session    ${runtime.sessionId}\ncontainer  ${runtime.containerId.slice(0, 12)}\nurl        ${runtime.url}\nkey        ${apiKey}\n`);
  process.stderr.write(
    `attached: Ctrl-C stops and removes ${runtime.name}. Try:\n` +
      `  runtime-client exec --url ${runtime.url} --key ${apiKey} -- 'echo hi'\n`,
  );

  let gone: string | null = null;
  const watcher = setInterval(() => {
    void DockerRuntime.list().then(
      (all) => {
        const mine = all.find((r) => r.containerId === runtime.containerId);
        if (!mine || (mine.state !== 'running' && mine.state !== 'paused')) {
          gone = mine ? `container ${runtime.name} is ${mine.state}` : `container ${runtime.name} was removed`;
          wake();
        }
      },
      () => {}, // the engine hiccuped; look again next time
    );
  }, WATCH_INTERVAL_MS);
  await new Promise<void>((resolve) => {
    wake = resolve;
    if (stopSignal) resolve();
  });
  clearInterval(watcher);

  if (gone) process.stderr.write(`runtime-client: ${gone}\n`);
  else process.stderr.write(`${stopSignal}: stopping and removing ${runtime.name}\n`);
  await runtime.close({ remove: true });
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

/**
 * The runtime's API key: its own `apiKey` when DockerRuntime has one, else the SESSION_API_KEY
 * the container was created with (as DockerRuntime.attach reads it).
 */
async function apiKeyOf(runtime: DockerRuntime): Promise<string> {
  const own = (runtime as { apiKey?: unknown }).apiKey;
  if (typeof own === 'string' && own) return own;
  const key = envOf(await inspect(runtime.containerId), 'SESSION_API_KEY');
  if (!key) throw new Error(`container ${runtime.name} has no SESSION_API_KEY in its environment`);
  return key;
}
