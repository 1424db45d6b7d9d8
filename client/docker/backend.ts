// The Docker backend: RuntimeBackend over DockerRuntime, plus the image side that only Docker has
// (the injected image's build and its context), for `runtime-client build | dockerfile | docker-args`.
import type { RuntimeBackend, RuntimeRef, StopOptions } from '../backends/backend.js';
import { RuntimeError } from '../errors.js';
import { buildInjectedImage, type BuildOptions, type BuildResult } from './build.js';
import { pauseContainer, stopContainer, unpauseContainer } from './containers.js';
import { writeBuildContext, type BuildContext, type ContextOptions } from './context.js';
import { inspectImage } from './docker-cli.js';
import { findContainer, infoFromSummary } from './lookup.js';
import { DockerRuntime } from './runtime.js';
import type { DockerAttachOptions, DockerRuntimeInfo, DockerStartOptions } from './types.js';

/**
 * Runtimes in containers of the local Docker engine (its unix socket: DOCKER_HOST=unix://…, else
 * /var/run/docker.sock; builds through the docker CLI, $DOCKER else `docker`). A runtime is
 * named by its session id, its container name, or its container id, full or a unique prefix of
 * at least 4 hex digits. Engine failures are RuntimeError 'docker' (the engine's HTTP status in
 * `data.status`).
 */
export class DockerBackend implements RuntimeBackend<DockerStartOptions, DockerRuntime, DockerRuntimeInfo, DockerAttachOptions> {
  readonly name = 'docker';

  /** DockerRuntime.start(): builds (cached) or mounts the bundle, runs the container, waits for /alive. */
  start(options: DockerStartOptions): Promise<DockerRuntime> {
    return DockerRuntime.start(options);
  }

  /** DockerRuntime.attach(): a stopped container is started again unless `start: false`. */
  attach(ref: string, options?: DockerAttachOptions): Promise<DockerRuntime> {
    return DockerRuntime.attach(ref, options);
  }

  list(): Promise<DockerRuntimeInfo[]> {
    return DockerRuntime.list();
  }

  async info(ref: RuntimeRef): Promise<DockerRuntimeInfo> {
    return infoFromSummary(await findContainer(idOf(ref)));
  }

  async pause(ref: RuntimeRef): Promise<void> {
    if (ref instanceof DockerRuntime) return ref.pause();
    await pauseContainer((await findContainer(idOf(ref))).Id);
  }

  async resume(ref: RuntimeRef): Promise<void> {
    if (ref instanceof DockerRuntime) return ref.resume();
    await unpauseContainer((await findContainer(idOf(ref))).Id);
  }

  /** Stops the container (SIGTERM, SIGKILL after 10 s) and removes it unless `remove: false`; a paused one is thawed first. */
  async stop(ref: RuntimeRef, options: StopOptions = {}): Promise<void> {
    if (ref instanceof DockerRuntime) return ref.stop(options);
    await stopContainer((await findContainer(idOf(ref))).Id, options.remove ?? true);
  }

  /**
   * Builds the injected image of `baseImage` (a local image), or finds it built: the tag is
   * injectedImageTag()'s unless `tag` is given, the same one start() uses in build mode, so a
   * build here saves start() its build. RuntimeError 'docker' when the build fails.
   */
  async buildImage(options: BuildOptions): Promise<BuildResult> {
    try {
      return await buildInjectedImage(options);
    } catch (e) {
      throw e instanceof RuntimeError || e instanceof TypeError ? e : new RuntimeError('docker', (e as Error).message);
    }
  }

  /**
   * Writes a build context that `docker build DIR` builds as is: DIR/Dockerfile, DIR/runtime-client/
   * (the bundle) and DIR/empty/. DIR must be new or empty (TypeError otherwise). No engine call.
   */
  writeBuildContext(dir: string, options: ContextOptions): BuildContext {
    return writeBuildContext(dir, options);
  }

  /** True when the engine has an image by that reference (name:tag or id). RuntimeError 'docker' when the docker CLI fails. */
  async hasImage(ref: string): Promise<boolean> {
    try {
      return (await inspectImage(ref)) !== null;
    } catch (e) {
      throw new RuntimeError('docker', (e as Error).message);
    }
  }
}

function idOf(ref: RuntimeRef): string {
  if (typeof ref === 'string') return ref;
  if (ref && typeof ref === 'object' && ref.backend === 'docker' && typeof ref.id === 'string') return ref.id;
  throw new TypeError(`the docker backend takes a runtime's id, session id, name or its docker handle, got ${ref && typeof ref === 'object' ? `a ${ref.backend} handle` : JSON.stringify(ref)}`);
}
