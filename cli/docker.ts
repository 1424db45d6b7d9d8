// `runtime-client dockerfile | build | docker-args`: the injection commands for people and scripts.
// Text and arguments come from the dockerfiles package; the engine side (builds, image lookups,
// writing a build context) from the client's Docker backend.
import { DEFAULT_PORT } from '@runtime-client/protocol';
import { BUNDLE_MOUNT, findBundle, mountCreateBody, mountRunArgs, renderDockerfile } from '@runtime-client/dockerfiles';
import { getBackend } from '@runtime-client/client';
import { UsageError, portOf } from './errors.js';
import { withFlags } from './flags.js';

const flag = {
  'base-image': `  --base-image IMG   the image to inject runtime-client into (required)\n`,
  port: `  --port N           the port the server listens on in the container (default ${DEFAULT_PORT})\n`,
  user: `  --user USER        run the shells as USER; the server itself stays the image's user\n                     (default: the image's user)\n`,
  workdir: `  --workdir DIR      the working directory of the server and its shells, created if missing\n                     (default: the image's)\n`,
  bundle: `  --bundle DIR       the runtime-client bundle (default: $RUNTIME_CLIENT_BUNDLE, else the\n                     package's dist/runtime-client, built by \`npm run bundle\`)\n`,
  help: `  -h, --help         this help\n`,
};

const DOCKERFILE_USAGE = `Usage: runtime-client dockerfile --base-image IMG [--port N] [--user USER] [--workdir DIR] [--bundle DIR] [--context DIR]

Prints the Dockerfile that injects runtime-client into IMG. Its build context must hold, beside
it, runtime-client/ (a copy of the bundle) and empty/ (an empty directory); its header comment
says so. With --context DIR it writes such a context instead, and \`docker build DIR\` builds it
as is.
${flag['base-image']}${flag.port}${flag.user}${flag.workdir}${flag.bundle}  --context DIR      write DIR/Dockerfile, DIR/runtime-client/ (the bundle, hard-linked where
                     possible) and DIR/empty/; DIR must be new or empty; prints DIR
                     (default: print the Dockerfile on stdout)
${flag.help}`;

const BUILD_USAGE = `Usage: runtime-client build --base-image IMG [--tag TAG] [--force] [--port N] [--user USER] [--workdir DIR] [--bundle DIR]

Builds the image that injects runtime-client into IMG (a local image) with the Docker engine, or
finds it built, and prints its name on stdout (progress goes to stderr). Its default tag is the
one \`runtime-client run\` and DockerRuntime.start give the same image and options, so a build
here saves them theirs.
${flag['base-image']}  --tag TAG          the image's name (default: rc-injected/<IMG>:<16 hex digits of a hash
                     of IMG's id, the bundle and the Dockerfile>)
  --force            build even when the tag exists or IMG already carries this bundle
                     (default: reuse them)
${flag.port}${flag.user}${flag.workdir}${flag.bundle}${flag.help}`;

const DOCKER_ARGS_USAGE = `Usage: runtime-client docker-args --base-image IMG [--port N] [--user USER] [--bundle DIR] [--json]

Prints the \`docker run\` arguments that run runtime-client in IMG with the bundle bind-mounted
read-only at ${BUNDLE_MOUNT} (mount mode: no build), for \`docker run -d <args>\`. Give the
container SESSION_API_KEY and publish the port yourself (-e, -p before the arguments).
${flag['base-image']}${flag.port}${flag.user}${flag.bundle}  --json             print the Engine API create body (POST /containers/create) instead;
                     its health check is the exec form, which needs no shell in IMG
                     (default: docker run arguments, one shell-quoted line)
${flag.help}`;

const image = { 'base-image': { type: 'string' } } as const;
const shared = { port: { type: 'string' }, user: { type: 'string' }, bundle: { type: 'string' } } as const;

/** Runs one of the docker commands; returns the exit code. */
export function runDockerCommand(name: 'dockerfile' | 'build' | 'docker-args', argv: string[]): Promise<number> {
  switch (name) {
    case 'dockerfile':
      return withFlags({ name, usage: DOCKERFILE_USAGE, options: { ...image, ...shared, workdir: { type: 'string' }, context: { type: 'string' } } }, argv, async ({ values }) => {
        const baseImage = baseImageOf(values['base-image'], name);
        const options = { baseImage, port: portOf(values.port, DEFAULT_PORT), user: values.user, workdir: values.workdir };
        if (values.context === undefined) {
          const bundle = findBundle(values.bundle);
          process.stdout.write(renderDockerfile({ ...options, version: bundle.version, digest: bundle.digest, bundleDir: bundle.dir }));
          return 0;
        }
        if (!values.context) throw new UsageError('--context needs a directory');
        let context;
        try {
          context = getBackend('docker').writeBuildContext(values.context, { ...options, bundleDir: values.bundle });
        } catch (e) {
          if (e instanceof TypeError) throw new UsageError(`--context: ${e.message}`);
          throw e;
        }
        process.stderr.write(`wrote ${context.dir}/Dockerfile, ${context.dir}/runtime-client/ and ${context.dir}/empty/; build it with: docker build ${context.dir}\n`);
        process.stdout.write(context.dir + '\n');
        return 0;
      });
    case 'build':
      return withFlags({ name, usage: BUILD_USAGE, options: { ...image, ...shared, workdir: { type: 'string' }, tag: { type: 'string' }, force: { type: 'boolean' } } }, argv, async ({ values }) => {
        const result = await getBackend('docker').buildImage({
          baseImage: baseImageOf(values['base-image'], name),
          port: portOf(values.port, DEFAULT_PORT),
          user: values.user,
          workdir: values.workdir,
          tag: values.tag,
          force: values.force,
          bundleDir: values.bundle,
          onProgress: (line) => process.stderr.write(line + '\n'),
        });
        process.stderr.write(`${result.how} in ${(result.durationMs / 1000).toFixed(2)} s\n`);
        process.stdout.write(result.image + '\n');
        return 0;
      });
    case 'docker-args':
      return withFlags({ name, usage: DOCKER_ARGS_USAGE, options: { ...image, ...shared, json: { type: 'boolean' } } }, argv, async ({ values }) => {
        const baseImage = baseImageOf(values['base-image'], name);
        const bundle = findBundle(values.bundle);
        const o = { baseImage, bundleDir: bundle.dir, port: portOf(values.port, DEFAULT_PORT), user: values.user };
        if (values.json) process.stdout.write(JSON.stringify(mountCreateBody(o), null, 2) + '\n');
        else process.stdout.write(mountRunArgs(o).map(shellQuote).join(' ') + '\n');
        if (!values.json && !(await getBackend('docker').hasImage(baseImage).catch(() => true))) {
          process.stderr.write(`note: no local image ${baseImage} yet\n`);
        }
        return 0;
      });
  }
}

function baseImageOf(value: string | undefined, command: string): string {
  if (!value) throw new UsageError(`${command} needs --base-image IMG`);
  return value;
}

function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_./:=,@%+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
