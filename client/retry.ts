// Retrying with exponential backoff and jitter, within a deadline: one loop shared by HTTP calls
// and WebSocket reconnects, so both back off the same way.
import { setTimeout as sleep } from 'node:timers/promises';

export interface RetryPolicy {
  /** Retries after the first attempt. */
  retries: number;
  /** First delay, in ms; doubled each retry. */
  backoffMs: number;
  /** Longest delay, in ms. */
  maxBackoffMs: number;
  /** Source of jitter in [0, 1). Default Math.random. */
  random?: () => number;
}

/**
 * The delay before retry number `attempt` (0 for the first retry), in ms: backoffMs·2^attempt,
 * capped at maxBackoffMs, then jittered down by up to half ("equal jitter"). Each delay is at least
 * half its ceiling, so the waits grow while clients that failed together still spread out.
 */
export function backoffDelay(attempt: number, policy: RetryPolicy): number {
  const ceiling = Math.min(policy.maxBackoffMs, policy.backoffMs * 2 ** attempt);
  return ceiling / 2 + ((policy.random ?? Math.random)() * ceiling) / 2;
}

export interface RetryControl {
  /** Whether another attempt may fix this failure. */
  transient(error: unknown): boolean;
  /** Absolute time (Date.now() ms) after which no attempt starts; null for none. */
  deadline?: number | null;
  /** Aborts the waits between attempts (the client was closed). */
  signal?: AbortSignal;
}

/**
 * Calls `attempt` until it resolves, a failure is not transient, the retries are used up or the
 * next wait would pass the deadline; then rethrows the last failure. `attempt` gets its index.
 */
export async function withRetries<T>(attempt: (index: number) => Promise<T>, policy: RetryPolicy, control: RetryControl): Promise<T> {
  for (let index = 0; ; index++) {
    try {
      return await attempt(index);
    } catch (error) {
      if (!control.transient(error) || index >= policy.retries) throw error;
      const delay = backoffDelay(index, policy);
      if (control.deadline != null && Date.now() + delay >= control.deadline) throw error;
      if (control.signal?.aborted) throw error;
      try {
        await sleep(delay, undefined, { signal: control.signal });
      } catch {
        throw error;
      }
    }
  }
}
