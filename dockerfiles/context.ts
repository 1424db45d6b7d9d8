// A build context for the injected image: the Dockerfile, the bundle as runtime-client/ and an
// empty empty/, which `docker build DIR` builds as is. The client's buildInjectedImage and the
// control plane's Docker driver (--inject image) write one in a temporary directory;
// `runtime-client dockerfile --context DIR` writes one where the user says.
import { cpSync, linkSync, mkdirSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { findBundle, type BundleInfo } from './bundle.js';
import { CONTEXT_BUNDLE_DIR, CONTEXT_EMPTY_DIR, renderDockerfile, type DockerfileOptions } from './dockerfile.js';

/** The Dockerfile options a context is written with; version and digest come from the bundle. */
export interface ContextOptions extends Partial<Pick<DockerfileOptions, 'port' | 'user' | 'workdir' | 'healthIntervalSeconds'>> {
  /** The image to inject runtime-client into. Required. */
  baseImage: string;
  /** The bundle directory. Default: $RUNTIME_CLIENT_BUNDLE, else the package's dist/runtime-client. */
  bundleDir?: string;
}

/** The top-level entries of a context (for an engine call that packs the listed files). */
export const CONTEXT_FILES = ['Dockerfile', CONTEXT_BUNDLE_DIR, CONTEXT_EMPTY_DIR] as const;

export interface BuildContext {
  /** The context directory, absolute. */
  dir: string;
  /** The Dockerfile text written to `dir`/Dockerfile. */
  dockerfile: string;
  bundle: BundleInfo;
}

/**
 * Writes `dir`/Dockerfile, `dir`/runtime-client/ (the bundle: hard links where the file system
 * allows, else a copy) and `dir`/empty/. `dir` must not exist or be empty (TypeError otherwise);
 * it is created with its parents. Nothing is left behind when writing fails.
 */
export function writeBuildContext(dir: string, o: ContextOptions): BuildContext {
  if (typeof o.baseImage !== 'string' || !o.baseImage) throw new TypeError('baseImage must name an image');
  const target = resolve(dir);
  const existed = entriesOf(target);
  if (existed && existed.length > 0) throw new TypeError(`the context directory ${target} is not empty: give a new or empty directory`);
  const bundle = findBundle(o.bundleDir);
  const dockerfile = renderDockerfile({
    baseImage: o.baseImage,
    port: o.port,
    user: o.user,
    workdir: o.workdir,
    healthIntervalSeconds: o.healthIntervalSeconds,
    version: bundle.version,
    digest: bundle.digest,
    bundleDir: bundle.dir,
  });
  mkdirSync(target, { recursive: true });
  try {
    linkOrCopy(bundle.dir, join(target, CONTEXT_BUNDLE_DIR));
    mkdirSync(join(target, CONTEXT_EMPTY_DIR));
    writeFileSync(join(target, 'Dockerfile'), dockerfile);
  } catch (e) {
    for (const entry of CONTEXT_FILES) rmSync(join(target, entry), { recursive: true, force: true });
    if (!existed) rmSync(target, { recursive: true, force: true });
    throw e;
  }
  return { dir: target, dockerfile, bundle };
}

/** The names in `dir`, or null when it does not exist. */
function entriesOf(dir: string): string[] | null {
  try {
    return readdirSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'ENOTDIR') throw new TypeError(`the context directory ${dir} is a file: give a new or empty directory`);
    throw e;
  }
}

// Hard links save copying the bundle (~100 MB) for every build; another file system needs a copy.
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
