// Flags of one host command: its own --help, and a mistake answered with exit 2, the command's
// synopsis and a pointer to its --help (not the global help).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './errors.js';

type Options = NonNullable<ParseArgsConfig['options']>;
/** What parseArgs gives for these flags: `values` typed by them, and `positionals`. */
type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>>;

export interface CommandFlags<O extends Options> {
  /** The command's name, e.g. `build`. */
  name: string;
  /** Its --help text; the first line is its synopsis (`Usage: runtime-client build ...`). */
  usage: string;
  /** Its flags, as parseArgs takes them; `-h, --help` is added. */
  options: O;
  allowPositionals?: boolean;
}

/**
 * Runs `body` with the parsed flags; prints the usage on --help (exit 0). A flag it does not
 * take, a missing value, or a UsageError from `body` prints `runtime-client NAME: <why>`, the
 * synopsis and `Try 'runtime-client NAME --help'.` on stderr, and exits 2.
 */
export async function withFlags<O extends Options>(
  spec: CommandFlags<O>,
  argv: string[],
  body: (parsed: Parsed<O>) => Promise<number>,
): Promise<number> {
  try {
    const parsed = parseArgs({
      args: argv,
      options: { ...spec.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: spec.allowPositionals ?? false,
      strict: true,
    });
    if ((parsed.values as { help?: boolean }).help) {
      process.stdout.write(spec.usage);
      return 0;
    }
    return await body(parsed as never);
  } catch (e) {
    const why = usageMessage(e);
    if (why === null) throw e;
    const synopsis = spec.usage.split('\n')[0];
    process.stderr.write(`runtime-client ${spec.name}: ${why}\n${synopsis}\nTry 'runtime-client ${spec.name} --help'.\n`);
    return 2;
  }
}

/** What went wrong in the call itself, in one sentence, or null for any other error. */
function usageMessage(e: unknown): string | null {
  if (e instanceof UsageError) return e.message;
  const code = (e as { code?: unknown })?.code;
  if (typeof code !== 'string' || !code.startsWith('ERR_PARSE_ARGS')) return null;
  const message = (e as Error).message;
  const unknown = /^Unknown option '([^']+)'/.exec(message);
  if (unknown) return `unknown flag ${unknown[1]}`;
  const positional = /^Unexpected argument '([^']*)'/.exec(message);
  if (positional) return `unexpected argument ${JSON.stringify(positional[1])}: this command takes flags only`;
  const missing = /^Option '(-\w, )?(--[\w-]+) <value>' argument missing/.exec(message);
  if (missing) return `${missing[2]} needs a value`;
  return message.split('\n')[0];
}
