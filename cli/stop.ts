// `runtime-client stop ID...`: stop and remove runtime containers by session id.
import { parseArgs } from 'node:util';
import { UsageError } from './errors.js';
import { DockerRuntime } from '@runtime-client/client';
import { RuntimeError } from '@runtime-client/client';

const USAGE = `Usage: runtime-client stop [--keep] SESSION_ID...

Stops each runtime (its server ends every session within 5 s) and removes its container.
  --keep   stop but keep the container (runtime-client can attach to it again later)
`;

export async function stopCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { keep: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) return void process.stdout.write(USAGE), 0;
  if (positionals.length === 0) throw new UsageError('stop needs at least one session id (see runtime-client ps)');
  let failed = 0;
  for (const sessionId of positionals) {
    try {
      await (await attachAnyState(sessionId)).close({ remove: !values.keep });
      process.stdout.write(sessionId + '\n');
    } catch (e) {
      failed++;
      process.stderr.write(`runtime-client: cannot stop ${sessionId}: ${(e as Error).message}\n`);
    }
  }
  return failed ? 1 : 0;
}

/** Attaches without starting a running or paused container; a stopped one must be started to be attached. */
async function attachAnyState(sessionId: string): Promise<DockerRuntime> {
  try {
    return await DockerRuntime.attach(sessionId, { start: false });
  } catch (e) {
    const stopped = e instanceof RuntimeError && typeof (e.data as { state?: unknown } | undefined)?.state === 'string';
    if (!stopped) throw e;
    return DockerRuntime.attach(sessionId);
  }
}
