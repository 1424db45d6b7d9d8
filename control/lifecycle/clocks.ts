// The runtimes' clocks: when each one is next due (expiry, idle, paused too long), and one timer
// set to the earliest of them all (not a polling loop per runtime). The times are the stored
// ones, so a restarted service keeps every clock where it was.
import type { StoredRuntime } from './store.js';

export type Due = { kind: 'expired' | 'idle' | 'paused_ttl'; at: number };

/** What is next due for a runtime, or null when it has no clock (warm, starting, stopped, failed). */
export function nextDue(r: StoredRuntime, pausedTtlSeconds: number): Due | null {
  if (r.warm || r.status === 'stopped') return null;
  if (r.status === 'paused') {
    const pausedEnd = (r.pausedAt ?? r.lastActivityAt) + pausedTtlSeconds * 1000;
    return pausedEnd < r.expiresAt ? { kind: 'paused_ttl', at: pausedEnd } : { kind: 'expired', at: r.expiresAt };
  }
  // Running: idle pauses only a ready runtime; one that failed or is starting only expires.
  if (r.podStatus !== 'ready') return { kind: 'expired', at: r.expiresAt };
  const idleEnd = r.lastActivityAt + r.idleTimeoutSeconds * 1000;
  return idleEnd < r.expiresAt ? { kind: 'idle', at: idleEnd } : { kind: 'expired', at: r.expiresAt };
}

/** setTimeout's longest delay (about 24.8 days); a later deadline re-arms when this one fires. */
const MAX_DELAY_MS = 2 ** 31 - 1;

/** One timer, re-armed to the earliest deadline it is given. */
export class Alarm {
  private timer: NodeJS.Timeout | undefined;
  private armedAt = Infinity;
  private closed = false;

  constructor(private readonly ring: () => void) {}

  /** Sets the timer to `at` (ms since the epoch), unless it is already set to that time. */
  set(at: number): void {
    if (this.closed || at === this.armedAt) return;
    this.clear();
    if (!Number.isFinite(at)) return;
    this.armedAt = at;
    const delay = Math.min(Math.max(at - Date.now(), 0), MAX_DELAY_MS);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.armedAt = Infinity;
      this.ring();
    }, delay);
  }

  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedAt = Infinity;
  }

  close(): void {
    this.closed = true;
    this.clear();
  }
}
