// `runtime-client exec`: run one command on a server, its output live on stdout, and exit with
// its exit status.
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { DEFAULT_PORT } from '@runtime-client/protocol';
import { UsageError } from './errors.js';
import { RuntimeError } from '@runtime-client/client';
import { RuntimeClient } from '@runtime-client/client';
import type { Observation } from '@runtime-client/client';

const USAGE = `Usage: runtime-client exec [--url URL] [--key KEY] [--session NAME] [--timeout SECONDS] -- 'command'

Runs the command in a persistent bash session of the server at URL and streams its output to
stdout as it comes (the terminal's \\r\\n become \\n when stdout is not a terminal). Exits with
the command's exit status; 124 when --timeout elapsed first (the command keeps running, as with
the protocol's hard timeout); 125 when the command could not be run (server unreachable, wrong
key, the session still busy with an earlier command). Ctrl-C sends C-c to the command; a second
Ctrl-C leaves at once (130).
  --url URL           the server (default http://127.0.0.1:${DEFAULT_PORT})
  --key KEY           its API key (default $SESSION_API_KEY)
  --session NAME      the bash session (default "default"); cd, export... persist in it
  --timeout SECONDS   hard timeout (default none: wait until the command ends)
`;

/** timeout(1)'s status when the time ran out. */
export const EXIT_TIMED_OUT = 124;
/** docker run's status when the command could not be run at all. */
export const EXIT_NOT_RUN = 125;

export async function execCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      key: { type: 'string' },
      session: { type: 'string' },
      timeout: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void process.stdout.write(USAGE), 0;
  const command = positionals.join(' ');
  if (!command.trim()) throw new UsageError(`exec needs a command: runtime-client exec --url URL -- 'echo hi'`);
  const timeout = values.timeout === undefined ? undefined : Number(values.timeout);
  if (timeout !== undefined && !(timeout > 0)) throw new UsageError(`--timeout must be a positive number of seconds, got ${JSON.stringify(values.timeout)}`);
  const url = values.url ?? `http://127.0.0.1:${DEFAULT_PORT}`;
  const apiKey = values.key ?? (process.env.SESSION_API_KEY || undefined);
  const session = values.session ?? 'default';

  const client = new RuntimeClient({ url, apiKey });
  try {
    const handle = client.stream({ action: 'run', args: { command, session, blocking: true }, ...(timeout ? { timeout } : {}) });
    let interrupted = false;
    const onSigint = () => {
      if (interrupted) process.exit(130);
      interrupted = true;
      process.stderr.write('\nruntime-client: C-c sent to the command (Ctrl-C again to leave now)\n');
      handle.interrupt().catch(() => {});
    };
    process.on('SIGINT', onSigint);
    const out = new Output(process.stdout);
    for await (const chunk of handle) await out.write(chunk);
    await out.end();
    const observation = await handle.observation;
    process.off('SIGINT', onSigint);
    return exitCodeOf(observation, session);
  } catch (e) {
    if (!(e instanceof RuntimeError)) throw e;
    const hint = e.code === 'unauthorized' ? ' (check --key or SESSION_API_KEY)' : '';
    process.stderr.write(`runtime-client: ${e.message}${hint}\n`);
    return EXIT_NOT_RUN;
  } finally {
    await client.close().catch(() => {});
  }
}

/** The process status for an observation; notes for the person go to stderr. */
function exitCodeOf(observation: Observation, session: string): number {
  if (observation.observation !== 'run') {
    process.stderr.write(`runtime-client: ${observation.content}\n`);
    return EXIT_NOT_RUN;
  }
  const { exit_code: code, suffix } = observation.extras.metadata;
  if (code >= 0) return code;
  if (observation.meta?.refused) {
    process.stderr.write(`runtime-client: not run: session ${JSON.stringify(session)} is still running an earlier command\n`);
    return EXIT_NOT_RUN;
  }
  const first = suffix.trim().replace(/^\[/, '').split('. ')[0];
  process.stderr.write(`runtime-client: ${first}; it keeps running in session ${JSON.stringify(session)}\n`);
  return EXIT_TIMED_OUT;
}

/** Writes chunks to stdout, waiting when it is full; \r\n becomes \n unless stdout is a terminal. */
class Output {
  private heldCr = false;
  private readonly raw: boolean;

  constructor(private readonly stream: NodeJS.WriteStream) {
    this.raw = stream.isTTY === true;
  }

  async write(chunk: string): Promise<void> {
    if (!this.raw) chunk = this.normalize(chunk);
    if (chunk && !this.stream.write(chunk)) await once(this.stream, 'drain');
  }

  async end(): Promise<void> {
    if (!this.heldCr) return;
    this.heldCr = false;
    if (!this.stream.write('\r')) await once(this.stream, 'drain');
  }

  /** A \r ending a chunk is held until the next one shows whether a \n follows. */
  private normalize(chunk: string): string {
    if (this.heldCr) chunk = '\r' + chunk;
    this.heldCr = chunk.endsWith('\r');
    if (this.heldCr) chunk = chunk.slice(0, -1);
    return chunk.replace(/\r\n/g, '\n');
  }
}
