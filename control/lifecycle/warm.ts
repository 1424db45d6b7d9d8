// The warm pool (--warm IMAGE=N): N ready sandboxes of IMAGE, each made with its own random key
// and handed out once, refilled behind every one taken. A sandbox's key and environment are fixed
// when it is made, so a warm one can serve only a start that asks for nothing it was not made
// with: no environment, working dir, user or runtime class, and the base resources. Any other
// start is a cold one, so that the request's environment reaches every shell and kernel.
import type { LifecycleOptions, StartParams } from './api.js';
import type { Limits } from './limits.js';

/** Whether a warm sandbox (made with the defaults) can serve this start. */
export function servesFromWarm(params: StartParams, limits: Limits, options: LifecycleOptions): boolean {
  return (
    (options.warm[params.image] ?? 0) > 0 &&
    Object.keys(params.env ?? {}).length === 0 &&
    !params.workingDir &&
    !params.username &&
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
