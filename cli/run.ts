// `runtime-client run`: start a runtime container, print where it listens, stay attached until a
// signal, then stop and remove it (like `docker run --rm` in the foreground).
import { getBackend, RuntimeError } from '@runtime-client/client';
import { Attachment, parseEnv, printProgress } from './attach.js';
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
  const attachment = new Attachment('the container', 'removed');
  const docker = getBackend('docker');
  const runtime = await attachment.start(() => docker.start({ baseImage, sessionId, env, mode, onProgress: printProgress }));
  process.stdout.write(`session    ${runtime.sessionId}\ncontainer  ${runtime.id.slice(0, 12)}\nurl        ${runtime.url}\nkey        ${runtime.apiKey}\n`);
  process.stderr.write(
    `attached: Ctrl-C stops and removes ${runtime.name}. Try:\n` +
      `  runtime-client exec --url ${runtime.url} --key ${runtime.apiKey} -- 'echo hi'\n`,
  );

  const gone = await attachment.until(() =>
    docker.info(runtime.id).then(
      (info) => (info.state === 'running' || info.state === 'paused' ? null : `container ${runtime.name} is ${info.engineState}`),
      (e: unknown) => {
        if (e instanceof RuntimeError && e.code === 'not_found') return `container ${runtime.name} was removed`;
        throw e; // the engine hiccuped; look again next time
      },
    ),
  );
  if (gone) process.stderr.write(`runtime-client: ${gone}\n`);
  else process.stderr.write(`${attachment.signal}: stopping and removing ${runtime.name}\n`);
  await runtime.stop({ remove: true });
  return gone ? 1 : 0;
}
