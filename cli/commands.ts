// The host commands: `run | exec | ps | stop` on the client library, `dockerfile | build |
// docker-args` for injection. Each module is loaded only when its command runs.
import { UsageError } from './errors.js';

export const HOST_COMMANDS = ['run', 'exec', 'ps', 'stop', 'dockerfile', 'build', 'docker-args', 'api'] as const;
export type HostCommand = (typeof HOST_COMMANDS)[number];

export function isHostCommand(name: string | undefined): name is HostCommand {
  return (HOST_COMMANDS as readonly string[]).includes(name ?? '');
}

/** Runs one host command; resolves with the process exit code. */
export async function runHostCommand(name: HostCommand, argv: string[]): Promise<number> {
  // Held until the command settles, so a wait that no handle backs (fetch() after docker-proxy
  // resets its socket waits on an unref'd abort timer only) cannot end the process with status 0.
  const keepAlive = setInterval(() => {}, 60_000);
  try {
    return await dispatch(name, argv);
  } finally {
    clearInterval(keepAlive);
  }
}

async function dispatch(name: HostCommand, argv: string[]): Promise<number> {
  // run, ps and stop with --api URL go to a runtime API service instead of the Docker engine.
  if ((name === 'run' || name === 'ps' || name === 'stop') && (await import('./remote.js')).wantsApi(argv)) {
    return (await import('./remote.js')).runRemoteCommand(name, argv);
  }
  switch (name) {
    case 'dockerfile':
    case 'build':
    case 'docker-args':
      return (await import('./docker.js')).runDockerCommand(name, argv);
    case 'exec':
      return (await import('./exec.js')).execCommand(argv);
    case 'run':
      return (await import('./run.js')).runCommand(argv);
    case 'ps':
      return (await import('./ps.js')).psCommand(argv);
    case 'stop':
      return (await import('./stop.js')).stopCommand(argv);
    case 'api':
      return (await import('./api.js')).apiCommand(argv);
    default:
      throw new UsageError(`unknown command ${JSON.stringify(name)}`);
  }
}
