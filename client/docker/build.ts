// Building the injected image, cached: the tag (injectedImageTag) comes from the base image's ID,
// the bundle and the Dockerfile, so building the same thing again is a lookup, not a build.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { LABEL_DIGEST, LABEL_VERSION, findBundle, injectedImageTag } from '@runtime-client/dockerfiles';
import { writeBuildContext, type ContextOptions } from './context.js';
import { dockerStreaming, hasBuildKit, inspectImage } from './docker-cli.js';

export interface BuildOptions extends ContextOptions {
  /** Tag to give the image. Default: injectedImageTag()'s, `rc-injected/<base>:<hash>`. */
  tag?: string;
  /** Build even when an image with the tag exists, or the base already carries this bundle. Default false. */
  force?: boolean;
  /** Force BuildKit or the legacy builder. Default: BuildKit when the docker CLI has it. */
  builder?: 'buildkit' | 'legacy';
  /** Called with each line of progress, as it happens. */
  onProgress?: (line: string) => void;
}

export interface BuildResult {
  /** The image to run. */
  image: string;
  /** built: a new image; cached: the tag already existed; base: the base image already carries this bundle. */
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
  const options = { baseImage: o.baseImage, port: o.port, user: o.user, workdir: o.workdir, healthIntervalSeconds: o.healthIntervalSeconds };
  const tag = o.tag ?? injectedImageTag({ ...options, baseId: base.Id, version: bundle.version, digest: bundle.digest });
  if (!o.force && (await inspectImage(tag))) {
    progress(`${tag} is already built`);
    return { image: tag, how: 'cached', durationMs: Date.now() - started };
  }

  // Beside the bundle, so that its files can be hard links (no copying ~100 MB).
  const contextParent = join(dirname(bundle.dir), '.build-contexts');
  mkdirSync(contextParent, { recursive: true });
  const context = mkdtempSync(join(contextParent, 'ctx-'));
  try {
    writeBuildContext(context, { ...options, bundleDir: bundle.dir });
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
