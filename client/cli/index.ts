// `runtime-client run | exec | ps | stop`: the host-side commands for people, on the client library.
import { UsageError } from '../../server/errors.js';

/** The subcommands this folder serves; server/cli.ts dispatches them here before anything else. */
export type ClientCommand = 'run' | 'exec' | 'ps' | 'stop';

/** Runs one client subcommand; resolves with the process exit code. */
export async function runClientCommand(name: ClientCommand, argv: string[]): Promise<number> {
  // Held until the command settles, so a wait that no handle backs (fetch() after docker-proxy
  // resets its socket waits on an unref'd abort timer only) cannot end the process with status 0.
  const keepAlive = setInterval(() => {}, 60_000);
  try {
    return await dispatch(name, argv);
  } finally {
    clearInterval(keepAlive);
  }
}

async function dispatch(name: ClientCommand, argv: string[]): Promise<number> {
  switch (name) {
    case 'exec':
      return (await import('./exec.js')).execCommand(argv);
    case 'run':
      return (await import('./run.js')).runCommand(argv);
    case 'ps':
      return (await import('./ps.js')).psCommand(argv);
    case 'stop':
      return (await import('./stop.js')).stopCommand(argv);
    default:
      throw new UsageError(`unknown command ${JSON.stringify(name)}`);
  }
}
