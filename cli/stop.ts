// `runtime-client stop RUNTIME...`: stop and remove runtime containers by session id, container id
// (full or short, as `ps` prints it) or container name.
import { getBackend } from '@runtime-client/client';
import { UsageError } from './errors.js';
import { withFlags } from './flags.js';

const USAGE = `Usage: runtime-client stop [--keep] RUNTIME...

Stops each runtime (its server ends every session within 5 s; killed after 10 s) and removes its
container. RUNTIME is a session id, a container id (full, or at least 4 leading hex digits as
\`runtime-client ps\` prints them) or a container name (runtime-client-SESSION). Only runtime
containers are considered. Prints each one stopped; exits 1 if any could not be. With --api URL
it stops a runtime API service's runtimes instead: see \`runtime-client stop --api URL --help\`.
  --keep       stop but keep the container; \`DockerRuntime.attach\` starts it again
               (default: remove it)
  -h, --help   this help
`;

export function stopCommand(argv: string[]): Promise<number> {
  return withFlags({ name: 'stop', usage: USAGE, options: { keep: { type: 'boolean' } }, allowPositionals: true }, argv, async ({ values, positionals }) => {
    if (positionals.length === 0) throw new UsageError('stop needs at least one session id, container id or name (see runtime-client ps)');
    const docker = getBackend('docker');
    let failed = 0;
    for (const ref of positionals) {
      try {
        await docker.stop(ref, { remove: !values.keep });
        process.stdout.write(ref + '\n');
      } catch (e) {
        failed++;
        process.stderr.write(`runtime-client: cannot stop ${ref}: ${(e as Error).message}\n`);
      }
    }
    return failed ? 1 : 0;
  });
}
