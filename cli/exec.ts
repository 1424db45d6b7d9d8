// `runtime-client exec`: run one command on a server, its output live on stdout, and exit with
// its exit status; or reach a command still running there (after exit 124, or started elsewhere)
// to type into it, send it a control key, or follow it again.
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { DEFAULT_PORT, MAX_TIMEOUT_SECONDS } from '@runtime-client/protocol';
import { UsageError } from './errors.js';
import { RuntimeError } from '@runtime-client/client';
import { RuntimeClient } from '@runtime-client/client';
import type { Observation, StreamHandle } from '@runtime-client/client';
import { StdinForwarder, whenRunning } from './stdin.js';

const USAGE = `Usage: runtime-client exec [options] [-i] -- 'command'
       runtime-client exec [options] [-i] --input TEXT | --keys KEYS | --continue

Runs the command in a persistent bash session of the server at URL and streams its output to
stdout as it comes (the terminal's \\r\\n become \\n when stdout is not a terminal). Ctrl-C sends
C-c to the command; a second Ctrl-C leaves at once (130).

Options:
  --url URL           the server (default http://127.0.0.1:${DEFAULT_PORT})
  --key KEY           its API key (default $SESSION_API_KEY)
  --session NAME      the bash session (default "default"); cd, export... persist in it
  --timeout SECONDS   stop waiting after this long: exit 124, the command keeps running
                      (default: wait until it ends)
  -i, --stdin         type exec's stdin into the command's terminal, line by line, and C-d at
                      its end: echo yes | runtime-client exec -i -- 'read x; echo $x'. The
                      terminal echoes what is typed. Lines the command has not read when it ends
                      are read by the session's shell, as typed-ahead commands would be (and C-d
                      then ends that shell: the session restarts); a line that is exactly C-x is
                      sent as that key; lines over 4095 bytes are cut by the terminal. For files,
                      upload them instead.

Reaching the command still running in the session (instead of running a new one):
  --input TEXT        type TEXT and Enter into it (--input '' presses Enter)
  --keys KEYS         send control keys: C-c interrupts (a second C-c kills its job), C-d ends
                      its input, C-z suspends; several in order: --keys 'C-c C-c'
  --continue          send nothing, just follow it
Each shows what the command printed since it was last watched, then follows it as exec does.

Exit status: the command's when it ends; 124 when --timeout elapsed first (it keeps running:
--continue follows it, --keys C-c interrupts it); 125 when nothing was run or reached (server
unreachable, wrong key, the session still busy with an earlier command, or no command running
for --input, --keys and --continue); 2 for a usage mistake.
`;

/** timeout(1)'s status when the time ran out. */
export const EXIT_TIMED_OUT = 124;
/** docker run's status when the command could not be run at all. */
export const EXIT_NOT_RUN = 125;

/**
 * How long each action that types into the running command (or, for --continue, sends nothing)
 * waits, in seconds, before the action queued behind it follows the command. The follower must
 * reach the server within this time to take over with no output missed in between.
 */
const LEAD_SECONDS = 0.5;

/** A control key as the protocol takes it (`is_input`): C- and one letter. */
const KEY = /^C-[a-z]$/i;

interface ExecOptions {
  url: string;
  apiKey?: string;
  session: string;
  /** Seconds; undefined: wait until the command ends. */
  timeout?: number;
  stdin: boolean;
  /** A new command, or what to send to the running one ('' for nothing). */
  mode: { command: string } | { sends: string[] };
}

export async function execCommand(argv: string[]): Promise<number> {
  const o = parseExecArgs(argv);
  if (!o) return void process.stdout.write(USAGE), 0;
  const client = new RuntimeClient({ url: o.url, apiKey: o.apiKey });
  const forwarder = o.stdin ? new StdinForwarder(client, o.session) : null;
  try {
    return 'command' in o.mode ? await runCommand(client, o, o.mode.command, forwarder) : await reachCommand(client, o, o.mode.sends, forwarder);
  } catch (e) {
    if (!(e instanceof RuntimeError)) throw e;
    const hint = e.code === 'unauthorized' ? ' (check --key or SESSION_API_KEY)' : '';
    process.stderr.write(`runtime-client: ${e.message}${hint}\n`);
    return EXIT_NOT_RUN;
  } finally {
    forwarder?.stop();
    await client.close().catch(() => {});
  }
}

function parseExecArgs(argv: string[]): ExecOptions | null {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      key: { type: 'string' },
      session: { type: 'string' },
      timeout: { type: 'string' },
      stdin: { type: 'boolean', short: 'i' },
      input: { type: 'string' },
      keys: { type: 'string', multiple: true },
      continue: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return null;
  const command = positionals.join(' ');
  const given = [command.trim() && 'a command', values.input !== undefined && '--input', values.keys && '--keys', values.continue && '--continue'].filter(Boolean);
  if (given.length === 0) {
    throw new UsageError(`exec needs a command: runtime-client exec --url URL -- 'echo hi' (or --input TEXT, --keys C-c or --continue for the command still running)`);
  }
  if (given.length > 1) throw new UsageError(`exec takes one of a command, --input, --keys and --continue; got ${given.join(' and ')}`);
  let mode: ExecOptions['mode'];
  if (values.input !== undefined) mode = { sends: [values.input] };
  else if (values.continue) mode = { sends: [''] };
  else if (values.keys) mode = { sends: keysOf(values.keys) };
  else mode = { command };
  return {
    url: values.url ?? `http://127.0.0.1:${DEFAULT_PORT}`,
    apiKey: values.key ?? (process.env.SESSION_API_KEY || undefined),
    session: values.session ?? 'default',
    timeout: timeoutOf(values.timeout),
    stdin: values.stdin ?? false,
    mode,
  };
}

/** --keys values: keys separated by spaces or commas, each C- and a letter. */
function keysOf(values: string[]): string[] {
  const keys = values.flatMap((v) => v.split(/[\s,]+/)).filter(Boolean);
  const bad = keys.find((k) => !KEY.test(k));
  if (bad !== undefined || keys.length === 0) {
    throw new UsageError(`--keys takes control keys written C-c, C-d, C-z... (C- and a letter), got ${JSON.stringify(bad ?? values.join(' '))}`);
  }
  return keys;
}

function timeoutOf(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const seconds = /^\s*(\d+\.?\d*|\.\d+)\s*$/.test(raw) ? Number(raw) : NaN;
  if (!(seconds > 0) || seconds > MAX_TIMEOUT_SECONDS) {
    throw new UsageError(`--timeout must be a positive number of seconds up to ${MAX_TIMEOUT_SECONDS}, got ${JSON.stringify(raw)}`);
  }
  return seconds;
}

/** A new command: streamed until it ends (or --timeout), stdin typed into it once it runs. */
async function runCommand(client: RuntimeClient, o: ExecOptions, command: string, forwarder: StdinForwarder | null): Promise<number> {
  // Input for a session already busy would reach the earlier command, which then refuses this one.
  const busy = forwarder !== null && (await client.sessions()).some((s) => s.name === o.session && s.busy);
  const handle = client.stream({ action: 'run', args: { command, session: o.session, blocking: true }, ...(o.timeout ? { timeout: o.timeout } : {}) });
  if (forwarder && !busy) {
    whenRunning(client, o.session, handle.observation).then(
      (running) => running && forwarder.start(),
      (e: Error) => process.stderr.write(`runtime-client: stdin is not forwarded: ${e.message}\n`),
    );
  }
  const stopCtrlC = onCtrlC(() => handle.interrupt());
  try {
    return await follow(handle, o, new Output(process.stdout));
  } finally {
    stopCtrlC();
  }
}

/**
 * Types each of `sends` into the command running in the session ('' sends nothing), each action
 * waiting LEAD_SECONDS, with a blocking empty command queued behind them that then follows the
 * command. The lead actions' `content` is what the command printed since it was last watched,
 * and the follower's stream starts where their wait ended, so nothing is missed or shown twice.
 */
async function reachCommand(client: RuntimeClient, o: ExecOptions, sends: string[], forwarder: StdinForwarder | null): Promise<number> {
  // Asking a session that does not exist would start one only to hear that nothing runs there.
  if (!(await client.sessions()).some((s) => s.name === o.session)) {
    process.stderr.write(`runtime-client: no session ${JSON.stringify(o.session)} on ${o.url}: no command is running there\n`);
    return EXIT_NOT_RUN;
  }
  const leads = sends.map((text) =>
    client.stream({ action: 'run', args: { command: text, is_input: text !== '', session: o.session, blocking: true }, timeout: LEAD_SECONDS }),
  );
  const follower = client.stream({ action: 'run', args: { command: '', session: o.session, blocking: true }, ...(o.timeout ? { timeout: o.timeout } : {}) });
  const closeAll = () => [...leads, follower].forEach((handle) => handle.close());
  const out = new Output(process.stdout);
  const stopCtrlC = onCtrlC(() => follower.interrupt());
  try {
    for (const lead of leads) {
      const observation = await lead.observation;
      if (observation.observation === 'run') await out.write(observation.content);
      // Nothing to reach, or the command ended meanwhile: this is the answer.
      if (observation.observation !== 'run' || observation.extras.metadata.exit_code >= 0) {
        closeAll();
        await out.end();
        return exitCodeOf(observation, o);
      }
    }
    forwarder?.start(); // the follower is the action waiting on the command now
    return await follow(follower, o, out);
  } finally {
    stopCtrlC();
  }
}

/** Streams `handle`'s output until its observation, and gives the exit status. */
async function follow(handle: StreamHandle, o: ExecOptions, out: Output): Promise<number> {
  for await (const chunk of handle) await out.write(chunk);
  await out.end();
  return exitCodeOf(await handle.observation, o);
}

/** Ctrl-C: `interrupt` (C-c to the command) the first time, leave at once (130) the second. Returns the remover. */
function onCtrlC(interrupt: () => Promise<unknown>): () => void {
  let interrupted = false;
  const onSigint = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    process.stderr.write('\nruntime-client: C-c sent to the command (Ctrl-C again to leave now)\n');
    interrupt().catch(() => {});
  };
  process.on('SIGINT', onSigint);
  return () => process.off('SIGINT', onSigint);
}

/** The process status for an observation; notes for the person go to stderr. */
function exitCodeOf(observation: Observation, o: ExecOptions): number {
  const session = JSON.stringify(o.session);
  const reach = `exec${o.session === 'default' ? '' : ` --session ${o.session}`}`;
  if (observation.observation !== 'run') {
    const none = observation.observation === 'error' && observation.extras.error_id === 'no_running_command';
    process.stderr.write(`runtime-client: ${none ? `no command is running in session ${session}` : observation.content}\n`);
    return EXIT_NOT_RUN;
  }
  const { exit_code: code } = observation.extras.metadata;
  if (code >= 0) return code;
  if (observation.meta?.refused) {
    process.stderr.write(
      `runtime-client: not run: session ${session} is still running an earlier command ` +
        `(${reach} --continue follows it, --input TEXT types into it, --keys C-c interrupts it)\n`,
    );
    return EXIT_NOT_RUN;
  }
  const why = o.timeout === undefined ? 'the command has not finished' : `timed out after ${o.timeout} seconds`;
  process.stderr.write(
    `runtime-client: ${why}; it keeps running in session ${session} ` +
      `(${reach} --continue follows it, --keys C-c interrupts it)\n`,
  );
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
