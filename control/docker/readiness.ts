// When a new sandbox's server may be ready: its output, followed on the Engine API. runtime-client
// writes a line as it listens and another once its default shell is ready, so each chunk of output
// is a moment to probe /alive. Waiting on the output instead of probing every few milliseconds
// matters when many sandboxes start at once: 50 starts polled ~4,600 times, which cost the service
// and the engine's port forwarder CPU that the sandboxes needed.
import type Docker from 'dockerode';

/**
 * Follows container `id`'s stdout and stderr (from its first line, so nothing written before the
 * call is missed) and calls `nudge` on every chunk, until `signal` aborts. Resolves when the
 * stream ends or fails (a log driver that cannot be read, the engine gone).
 */
export async function followOutput(docker: Docker, id: string, nudge: () => void, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return;
  let stream: NodeJS.ReadableStream;
  try {
    // dockerode's types omit abortSignal on logs; it passes it to the request.
    stream = (await docker.getContainer(id).logs({ follow: true, stdout: true, stderr: true, abortSignal: signal } as unknown as { follow: true })) as NodeJS.ReadableStream;
  } catch {
    return;
  }
  await new Promise<void>((resolve) => {
    const done = () => {
      signal.removeEventListener('abort', stop);
      resolve();
    };
    const stop = () => {
      (stream as unknown as { destroy(): void }).destroy();
      done();
    };
    signal.addEventListener('abort', stop, { once: true });
    stream.on('data', () => nudge());
    stream.on('end', done);
    stream.on('close', done);
    stream.on('error', done);
  });
}
