// Building the injected image, cached: the tag comes from a hash of the base image's ID and the
// bundle's digest, so building the same pair again is a lookup, not a build.
import { createHash } from 'node:crypto';
import { cpSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CONTEXT_BUNDLE_DIR, CONTEXT_EMPTY_DIR, LABEL_DIGEST, LABEL_VERSION, findBundle, renderDockerfile, type DockerfileOptions } from '@runtime-client/dockerfiles';
import { dockerStreaming, hasBuildKit, inspectImage } from './docker-cli.js';

export interface BuildOptions extends Partial<Pick<DockerfileOptions, 'port' | 'user' | 'workdir' | 'healthIntervalSeconds'>> {
  baseImage: string;
  /** Tag to give the image; default derived from the base image and the bundle. */
  tag?: string;
  /** Build even when an image with the tag exists. */
  force?: boolean;
  /** The bundle directory; default: findBundle()'s. */
  bundleDir?: string;
  /** Force BuildKit or the legacy builder; default: BuildKit when the CLI has it. */
  builder?: 'buildkit' | 'legacy';
  /** Each line of progress, as it happens. */
  onProgress?: (line: string) => void;
}

export interface BuildResult {
  /** The image to run. */
  image: string;
  /** built: a new image; cached: the tag already existed; base: the base image already carries this version. */
  how: 'built' | 'cached' | 'base';
  durationMs: number;
}

export async function buildInjectedImage(o: BuildOptions): Promise<BuildResult> {
  const started = Date.now();
  const progress = o.onProgress ?? (() => {});
  const bundle = findBundle(o.bundleDir);
  const base = await inspectImage(o.baseImage);
  if (!base) throw new Error(`no local image ${o.baseImage} (there is no registry to pull from: build or load it first)`);
  const labels = base.Config.Labels ?? {};
  if (labels[LABEL_VERSION] === bundle.version && labels[LABEL_DIGEST] === bundle.digest && !o.force) {
    progress(`${o.baseImage} already carries runtime-client ${bundle.version}`);
    return { image: o.baseImage, how: 'base', durationMs: Date.now() - started };
  }
  const options = { port: o.port, user: o.user, workdir: o.workdir, healthIntervalSeconds: o.healthIntervalSeconds };
  const tag = o.tag ?? derivedTag(o.baseImage, base.Id, bundle.digest, options);
  if (!o.force && (await inspectImage(tag))) {
    progress(`${tag} is already built`);
    return { image: tag, how: 'cached', durationMs: Date.now() - started };
  }

  // The context holds the bundle as hard links when it can (no copying ~100 MB), else a copy.
  const contextParent = join(dirname(bundle.dir), '.build-contexts');
  mkdirSync(contextParent, { recursive: true });
  const context = mkdtempSync(join(contextParent, 'ctx-'));
  try {
    linkOrCopy(bundle.dir, join(context, CONTEXT_BUNDLE_DIR));
    mkdirSync(join(context, CONTEXT_EMPTY_DIR));
    writeFileSync(
      join(context, 'Dockerfile'),
      renderDockerfile({ baseImage: o.baseImage, version: bundle.version, digest: bundle.digest, ...options }),
    );
    const env = { ...process.env };
    if (o.builder) env.DOCKER_BUILDKIT = o.builder === 'buildkit' ? '1' : '0';
    else if (env.DOCKER_BUILDKIT === undefined && !(await hasBuildKit())) env.DOCKER_BUILDKIT = '0';
    progress(`building ${tag} from ${o.baseImage} (${env.DOCKER_BUILDKIT === '0' ? 'legacy builder' : 'BuildKit'})`);
    await dockerStreaming(['build', '--tag', tag, context], progress, env);
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
  return { image: tag, how: 'built', durationMs: Date.now() - started };
}

/** `rc-injected/<base, sanitized>:<hash of base id, bundle digest and options>`. */
export function derivedTag(baseImage: string, baseId: string, digest: string, options: object): string {
  const hash = createHash('sha256').update(`${baseId}\n${digest}\n${JSON.stringify(options)}`).digest('hex').slice(0, 16);
  const name = baseImage.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[-.]+|[-.]+$/g, '').slice(0, 100) || 'image';
  return `rc-injected/${name}:${hash}`;
}

function linkOrCopy(from: string, to: string): void {
  try {
    hardLinkTree(from, to);
  } catch {
    rmSync(to, { recursive: true, force: true });
    cpSync(from, to, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
  }
}

function hardLinkTree(from: string, to: string): void {
  mkdirSync(to, { mode: statSync(from).mode & 0o7777 });
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const src = join(from, entry.name);
    const dst = join(to, entry.name);
    if (entry.isDirectory()) hardLinkTree(src, dst);
    else if (entry.isSymbolicLink()) symlinkSync(readlinkSync(src), dst);
    else linkSync(src, dst);
  }
}
