// Image mode (`--inject image`): each base image's injected image (the Dockerfile suffix stage of
// @runtime-client/dockerfiles on top of it), built on the engine through its API the first time a
// sandbox of that base image is made, and found by its tag every time after. Concurrent first
// starts of one base image share one build. Unlike mount mode, nothing of the service's host is
// bound into a sandbox, so the engine may be on another host (DOCKER_HOST=tcp://..., ssh://...).
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type Docker from 'dockerode';
import { BUNDLE_MOUNT, CONTEXT_FILES, LABEL_DIGEST, LABEL_VERSION, injectedImageTag, writeBuildContext, type BundleInfo } from '@runtime-client/dockerfiles';
import { DriverError } from '../driver.js';
import { followBuild } from './build.js';

/** How a sandbox's image was found: built now, already on the engine, or the base carries this bundle already. */
export interface InjectedImage {
  baseImage: string;
  /** The image the sandbox runs. */
  image: string;
  how: 'built' | 'cached' | 'base';
  /** For `built`: how long the build took (context written, sent, built). */
  durationMs?: number;
}

export interface InjectorOptions {
  docker: Docker;
  /** The bundle to inject (read at each lookup: a rebuilt bundle names new images). */
  bundle: () => BundleInfo;
  /** One engine call under the driver's timeout, its failure a DriverError (the driver's #call); not used for the build. */
  call: <T>(what: string, fn: (signal: AbortSignal) => Promise<T>) => Promise<T>;
  /** Told of every image a sandbox gets (for the service's log). */
  onImage?: (image: InjectedImage) => void;
  /** How long one build may take (a base image's ONBUILD steps run in it). Default 300000 ms. */
  buildTimeoutMs?: number;
}

/** The temporary context directories' name prefix (the client's own are `ctx-`). */
export const CONTEXT_PREFIX = 'inject-ctx-';

/** The parts of an image inspect read here. */
interface ImageInspect {
  Id: string;
  Config?: { Labels?: Record<string, string> | null; Entrypoint?: string[] | null } | null;
}

/** The entrypoint the suffix stage sets; the sandbox's Cmd holds the server's flags only. */
const ENTRYPOINT = [`${BUNDLE_MOUNT}/bin/tini`, '--', `${BUNDLE_MOUNT}/bin/runtime-client`];

/** Finds or builds injected images; one per base image id and bundle. */
export class Injector {
  readonly #o: InjectorOptions;
  /** Builds under way, by tag: a second start of the same base image waits for the first's. */
  readonly #building = new Map<string, Promise<number>>();

  constructor(options: InjectorOptions) {
    this.#o = options;
  }

  /**
   * The injected image of `baseImage`, built if the engine lacks it. `image_not_found` (nothing
   * built) when the base image is missing; a failed build rejects with the build's text. The
   * caller's signal stops its wait, not a build others may share. Engine failures other than
   * the build's own come as they are: the driver makes them DriverErrors.
   */
  async imageFor(baseImage: string, signal?: AbortSignal): Promise<InjectedImage> {
    const base = await this.#inspect(baseImage);
    if (!base) throw new DriverError('image_not_found', `the image ${baseImage} is not on the engine (the driver does not pull: build or load it first)`, 404);
    const bundle = this.#o.bundle();
    const labels = base.Config?.Labels ?? {};
    const report = (found: InjectedImage) => (this.#o.onImage?.(found), found);
    // An injected image of this very bundle is used as is, unless an image made from it changed
    // the entrypoint (labels are inherited, the entrypoint may not be).
    const carries = labels[LABEL_VERSION] === bundle.version && labels[LABEL_DIGEST] === bundle.digest;
    if (carries && JSON.stringify(base.Config?.Entrypoint ?? []) === JSON.stringify(ENTRYPOINT)) return report({ baseImage, image: baseImage, how: 'base' });
    // The same options as the client's default build: both sides name (and share) one image.
    const tag = injectedImageTag({ baseImage, baseId: base.Id, version: bundle.version, digest: bundle.digest });
    let build = this.#building.get(tag);
    if (!build) {
      if (await this.#inspect(tag)) return report({ baseImage, image: tag, how: 'cached' });
      // Looked again: another start may have begun the build while this one inspected.
      build = this.#building.get(tag);
      if (!build) {
        build = this.#build(baseImage, tag, bundle).finally(() => this.#building.delete(tag));
        // Every waiter may have given up (its signal): the failure is theirs, never unhandled.
        build.catch(() => {});
        this.#building.set(tag, build);
        const durationMs = await waitFor(build, signal);
        return report({ baseImage, image: tag, how: 'built', durationMs });
      }
    }
    await waitFor(build, signal);
    return report({ baseImage, image: tag, how: 'cached' });
  }

  /** Writes the context in a temporary directory, builds it as `tag`, removes the directory; resolves with the build's duration. */
  async #build(baseImage: string, tag: string, bundle: BundleInfo): Promise<number> {
    const started = Date.now();
    const timeoutMs = this.#o.buildTimeoutMs ?? 300_000;
    const timeout = AbortSignal.timeout(timeoutMs);
    const dir = contextDir(bundle);
    try {
      writeBuildContext(dir, { baseImage, bundleDir: bundle.dir });
      const { docker } = this.#o;
      // dockerode packs the listed entries of the directory as the build's tar.gz body; the
      // engine cancels the build when the request is cut.
      const options = { t: tag, rm: true, forcerm: true, abortSignal: timeout } as Docker.ImageBuildOptions;
      const stream = await docker.buildImage({ context: dir, src: [...CONTEXT_FILES] }, options);
      const failure = await followBuild(docker, stream);
      if (failure !== undefined) throw new DriverError('image_not_injectable', `the injected image of ${baseImage} could not be built: ${failure || 'the engine gave no reason'}`);
      return Date.now() - started;
    } catch (e) {
      if (timeout.aborted) throw new DriverError('image_not_injectable', `the injected image of ${baseImage} was not built within ${timeoutMs} ms (the build was cancelled)`);
      throw e;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** The image's inspect, or null when the engine has no such image. */
  async #inspect(name: string): Promise<ImageInspect | null> {
    try {
      return (await this.#o.call('image inspect', () => this.#o.docker.getImage(name).inspect())) as ImageInspect;
    } catch (e) {
      if ((e as DriverError).status === 404) return null;
      throw e;
    }
  }
}

/**
 * A new empty directory for a context: beside the bundle when that is writable, so that the
 * bundle's files are hard links (no copy of ~100 MB per build), else in the system's tmpdir.
 */
function contextDir(bundle: BundleInfo): string {
  try {
    const parent = join(dirname(bundle.dir), '.build-contexts');
    mkdirSync(parent, { recursive: true });
    return mkdtempSync(join(parent, CONTEXT_PREFIX));
  } catch {
    return mkdtempSync(join(tmpdir(), `rc-${CONTEXT_PREFIX}`));
  }
}

/** `promise`, or the signal's reason as soon as it aborts (the promise goes on for the others). */
function waitFor<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => (signal.removeEventListener('abort', onAbort), resolve(v)),
      (e) => (signal.removeEventListener('abort', onAbort), reject(e)),
    );
  });
}
