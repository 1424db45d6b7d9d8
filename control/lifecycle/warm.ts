// The warm pool (--warm IMAGE=N): N sandboxes of IMAGE started before anyone asks, their servers
// up and waiting unconfigured (runtime-client --await-config), each handed out once: the start's
// environment, working dir and user reach it in one POST /configure with a fresh key
// (configure.ts), and the pool refills behind it. What is fixed when a container is made (the
// runtime class, CPUs and memory) must be the defaults for a start to be served from the pool;
// any other start is a cold one.
import { ENV_NAME_PATTERN, USERNAME_PATTERN } from '@runtime-client/protocol';
import type { LifecycleOptions, StartParams } from './api.js';
import type { Limits } from './limits.js';

/** Whether a warm sandbox (made with the defaults) can serve this start. */
export function servesFromWarm(params: StartParams, limits: Limits, options: LifecycleOptions): boolean {
  return (
    (options.warm[params.image] ?? 0) > 0 &&
    // /configure takes shell variable names only; a start with another goes cold, where the engine sets it.
    Object.keys(params.env ?? {}).every((name) => ENV_NAME_PATTERN.test(name)) &&
    (params.username === undefined || USERNAME_PATTERN.test(params.username)) &&
    !params.runtimeClass &&
    limits.cpus === options.baseCpus &&
    limits.memoryMb === options.baseMemoryMb
  );
}

/** Milliseconds before a refill that failed is tried again. */
const RETRY_MS = 5000;

/** Keeps every image's count of warm sandboxes (ready or being made) at its target. */
export class WarmRefill {
  private retry: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly targets: Record<string, number>,
    /** Warm sandboxes of the image, ready or being made (their records come first, synchronously). */
    private readonly have: (image: string) => number,
    /** Makes one warm sandbox of the image: records it before its first await, then makes it. */
    private readonly make: (image: string) => Promise<unknown>,
    private readonly onError: (image: string, error: unknown) => void,
  ) {}

  /** Starts making whatever each image lacks. */
  fill(): void {
    if (this.closed) return;
    for (const [image, target] of Object.entries(this.targets)) {
      for (let missing = target - this.have(image); missing > 0; missing--) {
        this.make(image).catch((error) => {
          if (this.closed) return;
          this.onError(image, error);
          this.retry ??= setTimeout(() => {
            this.retry = undefined;
            this.fill();
          }, RETRY_MS);
        });
      }
    }
  }

  close(): void {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
  }
}
