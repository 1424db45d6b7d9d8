// The host CLI: `runtime-client COMMAND ...` for run, exec, ps, stop, dockerfile, build and
// docker-args; anything else (serve flags, probe) goes to the sandbox server's own command line.
import { isHostCommand, runHostCommand } from './commands.js';
import { UsageError } from './errors.js';

export { HOST_COMMANDS, isHostCommand, runHostCommand } from './commands.js';
export type { HostCommand } from './commands.js';
export { UsageError } from './errors.js';

export const HOST_HELP = `runtime-client: run and reach sandboxes from the host

Usage:
  runtime-client run --base-image IMG [--session-id ID] [--mode build|mount] [-e K=V]...
                                     start a runtime container, print its URL and key, stay
                                     attached; Ctrl-C stops and removes it
  runtime-client exec [--url URL] [--key KEY] [--session S] [--timeout SECONDS] [-i] -- 'command'
                                     run a command on a server, streaming its output (-i: and
                                     typing stdin into it); exit with its status (124: timed
                                     out, 125: not run)
  runtime-client exec [...] --input TEXT | --keys C-c | --continue
                                     reach the command still running in the session: type a
                                     line into it, send it a control key, or follow it again
  runtime-client ps [--json | -q]    list the runtime containers
  runtime-client stop ID...          stop and remove runtime containers
  runtime-client run --api URL [--api-key-file F] [-e K=V]... [-d] IMAGE
                                     the same against a runtime API service (\`runtime-client
                                     api\`); so do ps --api URL and stop --api URL ID...
  runtime-client api [--host ADDR] [--port N] [--max-runtimes N] [--warm IMAGE=N] [...]
                                     serve the runtime API (RUNTIME-API.md) that starts, tracks
                                     and reaps runtimes, on one port (api --help lists its options)
  runtime-client dockerfile --base-image IMG [--port N] [--user U] [--workdir DIR]
                                     print the Dockerfile that injects runtime-client into IMG
  runtime-client build --base-image IMG [--tag T] [--force]
                                     build (or reuse) that image with the Docker engine
  runtime-client docker-args --base-image IMG [--port N] [--json]
                                     print \`docker run\` arguments for mount mode (no build)
  runtime-client [serve options]     serve the protocol here, as the sandbox binary does
                                     (runtime-client serve --help lists its options)
  runtime-client probe [--port N] [--host ADDR]
                                     exit 0 iff /alive answers 200 within 2 s
  runtime-client COMMAND --help      a command's own options
`;

/**
 * Runs the command line `argv`; resolves with the exit code, or undefined when the process
 * should stay up (a server is serving).
 */
export async function runCli(argv: string[]): Promise<number | undefined> {
  const [first, ...rest] = argv;
  try {
    if (isHostCommand(first)) return await runHostCommand(first, rest);
    if (first === undefined ? false : first === '-h' || first === '--help') {
      process.stdout.write(HOST_HELP);
      return 0;
    }
    const server = await import('@runtime-client/server/main');
    await server.runServerCommand(first === 'serve' ? rest : argv);
    return undefined;
  } catch (e) {
    const err = e as Error & { code?: string };
    const usage = err instanceof UsageError || err.code === 'usage' || err.code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`runtime-client: ${err.message}\n${usage ? "Try 'runtime-client --help'.\n" : ''}`);
    return usage ? 2 : 1;
  }
}

