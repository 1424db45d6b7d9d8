// Building an image from a tar.gz context on the engine: `POST /build` with the context as the
// body, its progress followed to the end. The engine reports a failed step inside the stream
// (`errorDetail`), not as an HTTP status: that text is what the build rejects with.
import type Docker from 'dockerode';
import { DriverError } from '../driver.js';

/** Builds `context` (a gzipped tar with a Dockerfile at its root) into `tags`; resolves with the first tag. */
export async function buildImage(docker: Docker, context: Buffer, tags: string[], signal?: AbortSignal): Promise<string> {
  if (!Buffer.isBuffer(context) || context.length === 0) throw new TypeError('the build context must be a non-empty tar.gz Buffer');
  if (!Array.isArray(tags) || tags.length === 0 || tags.some((t) => typeof t !== 'string' || !t.trim())) {
    throw new TypeError(`tags must be a non-empty array of image names, got ${JSON.stringify(tags)}`);
  }
  signal?.throwIfAborted();
  const stream = await docker.buildImage(context as unknown as NodeJS.ReadableStream, { t: tags, rm: true, forcerm: true, abortSignal: signal } as unknown as Docker.ImageBuildOptions);
  const failure = await followBuild(docker, stream);
  signal?.throwIfAborted();
  if (failure !== undefined) throw new DriverError('engine', `the build failed: ${failure || 'the engine gave no reason'}`);
  return tags[0];
}

/** Follows a build's progress to its end; resolves with the failed step's text ('' when the engine gave none), undefined when it built. */
export function followBuild(docker: Docker, stream: NodeJS.ReadableStream): Promise<string | undefined> {
  return new Promise<string | undefined>((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (err: Error | null, output: { error?: string; errorDetail?: { message?: string } }[]) => {
        if (err) return reject(err);
        const failed = output.find((line) => line.error || line.errorDetail);
        resolve(failed ? (failed.errorDetail?.message ?? failed.error ?? '').trim() : undefined);
      },
    );
  });
}
