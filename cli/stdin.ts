// `exec -i`: exec's stdin typed into the running command's terminal, a line at a time, as
// `is_input` runs on the command's session. They go out as WebSocket frames on the client's one
// socket, so the server receives them in order, and each goes straight to the terminal because an
// action (exec's own) is waiting on the command.
import type { Readable } from 'node:stream';
import type { RuntimeClient, StreamHandle } from '@runtime-client/client';

/** How often `whenRunning` asks the server whether the session's command has started, in ms. */
const POLL_MS = 25;

export class StdinForwarder {
  #carry = '';
  #sent: StreamHandle[] = [];
  #stopped = false;
  #warnedNul = false;
  readonly #onData = (chunk: string) => this.#data(chunk);
  readonly #onEnd = () => this.#end();

  constructor(
    private readonly client: RuntimeClient,
    private readonly session: string,
    private readonly input: Readable = process.stdin,
  ) {}

  /** Starts typing what arrives on stdin into the session's running command. */
  start(): void {
    if (this.#stopped) return;
    this.input.setEncoding('utf8');
    this.input.on('data', this.#onData);
    this.input.once('end', this.#onEnd);
  }

  /** Stops reading stdin; what was read and not sent yet is dropped. */
  stop(): void {
    this.#stopped = true;
    this.input.off('data', this.#onData);
    this.input.off('end', this.#onEnd);
    this.input.pause();
    // Their observations come when the command ends; nobody waits for them.
    for (const handle of this.#sent) handle.close();
    this.#sent = [];
  }

  /** Complete lines go out at once, together; a line still being typed waits for its newline. */
  #data(chunk: string): void {
    if (chunk.includes('\0')) {
      if (!this.#warnedNul) process.stderr.write('runtime-client: stdin holds NUL bytes, which a terminal cannot be sent; they are dropped\n');
      this.#warnedNul = true;
      chunk = chunk.replaceAll('\0', '');
    }
    const text = this.#carry + chunk;
    const cut = text.lastIndexOf('\n');
    if (cut === -1) return void (this.#carry = text);
    this.#carry = text.slice(cut + 1);
    // The server adds the last Enter; the ones inside are typed as Enter too (\r, as a keyboard sends).
    this.#send(text.slice(0, cut).replace(/\r?\n/g, '\r'));
  }

  /** The end of stdin: a last line without a newline gets its Enter, then C-d says end of input. */
  #end(): void {
    if (this.#carry) this.#send(this.#carry);
    this.#carry = '';
    this.#send('C-d');
  }

  #send(text: string): void {
    if (this.#stopped) return;
    this.#sent.push(this.client.stream({ action: 'run', args: { command: text, is_input: true, session: this.session, blocking: true } }));
  }
}

/**
 * Resolves true once `session` is busy with a command (input sent before that would queue behind
 * the command instead of reaching it), or false when `finished` settles first.
 */
export async function whenRunning(client: RuntimeClient, session: string, finished: Promise<unknown>): Promise<boolean> {
  let done = false;
  finished.then(
    () => (done = true),
    () => (done = true),
  );
  while (!done) {
    const sessions = await client.sessions();
    if (done) return false;
    if (sessions.find((s) => s.name === session)?.busy) return true;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  return false;
}
