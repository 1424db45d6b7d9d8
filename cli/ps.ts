// `runtime-client ps`: the runtime containers on the Docker engine, as a table.
import { getBackend, type DockerRuntimeInfo } from '@runtime-client/client';
import { withFlags } from './flags.js';

const USAGE = `Usage: runtime-client ps [--json | -q]

Lists the runtime containers on the Docker engine, in any state, newest first: session id,
container id (12 digits; \`runtime-client stop\` takes it, or the session id), the image asked
for, the mode (build or mount), the engine's state and the server's URL. With --api URL it lists
a runtime API service's runtimes instead: see \`runtime-client ps --api URL --help\`.
  --json       the list as JSON, one object per runtime (default: a table)
  -q, --quiet  session ids only, one a line (default: a table)
  -h, --help   this help
`;

export function psCommand(argv: string[]): Promise<number> {
  const options = { json: { type: 'boolean' }, quiet: { type: 'boolean', short: 'q' } } as const;
  return withFlags({ name: 'ps', usage: USAGE, options }, argv, async ({ values }) => {
    const runtimes = await getBackend('docker').list();
    if (values.json) process.stdout.write(JSON.stringify(runtimes, null, 2) + '\n');
    else if (values.quiet) process.stdout.write(runtimes.map((r) => r.sessionId + '\n').join(''));
    else process.stdout.write(formatTable(runtimes));
    return 0;
  });
}

/** One row per runtime under a header; columns padded to their widest cell. */
export function formatTable(runtimes: DockerRuntimeInfo[]): string {
  const rows = [
    ['SESSION', 'CONTAINER', 'IMAGE', 'MODE', 'STATE', 'URL'],
    ...runtimes.map((r) => [r.sessionId || '-', r.id.slice(0, 12), r.baseImage ?? r.image, r.mode ?? '-', r.engineState, r.url ?? '-']),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ') + '\n').join('');
}
