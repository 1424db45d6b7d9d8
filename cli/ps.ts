// `runtime-client ps`: the runtime containers on the Docker engine, as a table.
import { parseArgs } from 'node:util';
import { DockerRuntime, type RuntimeInfo } from '@runtime-client/client';

const USAGE = `Usage: runtime-client ps [--json | -q]

Lists the runtime containers on the Docker engine (any state).
  --json       the list as JSON
  -q, --quiet  session ids only, one a line
`;

export async function psCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { json: { type: 'boolean' }, quiet: { type: 'boolean', short: 'q' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) return void process.stdout.write(USAGE), 0;
  const runtimes = await DockerRuntime.list();
  if (values.json) process.stdout.write(JSON.stringify(runtimes, null, 2) + '\n');
  else if (values.quiet) process.stdout.write(runtimes.map((r) => r.sessionId + '\n').join(''));
  else process.stdout.write(formatTable(runtimes));
  return 0;
}

/** One row per runtime under a header; columns padded to their widest cell. */
export function formatTable(runtimes: RuntimeInfo[]): string {
  const rows = [
    ['SESSION', 'CONTAINER', 'IMAGE', 'MODE', 'STATE', 'URL'],
    ...runtimes.map((r) => [r.sessionId || '-', r.containerId.slice(0, 12), r.baseImage ?? r.image, r.mode ?? '-', r.state, r.url ?? '-']),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ') + '\n').join('');
}
