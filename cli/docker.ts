// `runtime-client dockerfile | build | docker-args`: the injection commands for people and scripts.
import { parseArgs } from 'node:util';
import { DEFAULT_PORT } from '@runtime-client/protocol';
import { UsageError, portOf } from './errors.js';
import { findBundle, mountCreateBody, mountRunArgs, renderDockerfile } from '@runtime-client/dockerfiles';
import { buildInjectedImage, inspectImage } from '@runtime-client/client';

const common = {
  'base-image': { type: 'string' },
  port: { type: 'string' },
  user: { type: 'string' },
  bundle: { type: 'string' },
} as const;

/** Runs one of the docker commands; returns the exit code. */
export async function runDockerCommand(name: 'dockerfile' | 'build' | 'docker-args', argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { ...common, workdir: { type: 'string' }, tag: { type: 'string' }, force: { type: 'boolean' }, json: { type: 'boolean' } },
  });
  const baseImage = values['base-image'];
  if (!baseImage) throw new UsageError(`${name} needs --base-image IMG`);
  const port = portOf(values.port, DEFAULT_PORT);
  const user = values.user;

  if (name === 'dockerfile') {
    const bundle = findBundle(values.bundle);
    process.stdout.write(renderDockerfile({ baseImage, port, user, workdir: values.workdir, version: bundle.version, digest: bundle.digest }));
    return 0;
  }
  if (name === 'docker-args') {
    const bundle = findBundle(values.bundle);
    const o = { baseImage, bundleDir: bundle.dir, port, user };
    if (values.json) process.stdout.write(JSON.stringify(mountCreateBody(o), null, 2) + '\n');
    else process.stdout.write(mountRunArgs(o).map(shellQuote).join(' ') + '\n');
    if (!values.json && !(await inspectImage(baseImage).catch(() => null))) {
      process.stderr.write(`note: no local image ${baseImage} yet\n`);
    }
    return 0;
  }
  const result = await buildInjectedImage({
    baseImage,
    port,
    user,
    workdir: values.workdir,
    tag: values.tag,
    force: values.force,
    bundleDir: values.bundle,
    onProgress: (line) => process.stderr.write(line + '\n'),
  });
  process.stderr.write(`${result.how} in ${(result.durationMs / 1000).toFixed(2)} s\n`);
  process.stdout.write(result.image + '\n');
  return 0;
}

function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_./:=,@%+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
