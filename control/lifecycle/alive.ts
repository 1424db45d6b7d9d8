// Waiting for a new runtime's server: GET <url>/alive answers 200 once its default shell is ready.
import http from 'node:http';
import { withDeadline } from '../deadline.js';

/** Calls `nudge` when the server may just have become ready; resolves when no more nudges will come (Driver.readiness). */
export type Readiness = (nudge: () => void, signal: AbortSignal) => Promise<void>;

/**
 * Polls `<url>/alive` until it answers 200 (resolves) or `timeoutMs` passes (rejects with a
 * sentence saying what was last seen). Without `readiness`, polls every 10 ms for the first 3 s (a
 * start's latency is what it waits for), then every 100 ms. With it, probes at each nudge and only
 * every second besides (in case a nudge is missed), and as without it once the nudges stop coming.
 */
export async function waitAlive(url: string, timeoutMs: number, signal?: AbortSignal, readiness?: Readiness): Promise<void> {
  inFlight++;
  const hints = new Hints(readiness);
  try {
    return await poll(url, timeoutMs, signal, hints);
  } finally {
    hints.close();
    inFlight--;
  }
}

/** Milliseconds between probes while nudges come: a fallback, the nudges do the work. */
const NUDGED_POLL_MS = 1000;
/** The least time between two probes, nudged or not. */
const MIN_GAP_MS = 5;

/** The nudges of one wait: whether one came since the last probe, and a wake-up for the pause between probes. */
class Hints {
  live: boolean;
  pending = false;
  private wake: (() => void) | undefined;
  private readonly abort = new AbortController();

  constructor(readiness: Readiness | undefined) {
    this.live = readiness !== undefined;
    if (!readiness) return;
    readiness(() => {
      this.pending = true;
      this.wake?.();
    }, this.abort.signal)
      .catch(() => undefined)
      .finally(() => {
        this.live = false;
        this.wake?.();
      });
  }

  /** Waits `ms`, or less when a nudge comes (or the nudges stop). */
  pause(ms: number): Promise<void> {
    if (this.pending) return new Promise((r) => setTimeout(r, MIN_GAP_MS));
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = undefined;
        // A nudge ends the pause, but never sooner than MIN_GAP_MS after it began.
        setTimeout(done, MIN_GAP_MS);
      };
    });
  }

  close(): void {
    this.wake = undefined;
    this.abort.abort();
  }
}

/**
 * Starts waiting at once. Their probes are spaced by how many there are (10 ms for up to four,
 * then 10 ms more per four): 50 starts probing every 10 ms made 5,000 connections a second, and
 * the service's CPU went to them instead of to the sandboxes starting.
 */
let inFlight = 0;

async function poll(url: string, timeoutMs: number, signal: AbortSignal | undefined, hints: Hints): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  const began = Date.now();
  for (;;) {
    signal?.throwIfAborted();
    const probeMs = Math.max(1, Math.min(2000, deadline - Date.now()));
    hints.pending = false;
    const abort = new AbortController();
    try {
      const probe = get(`${url}/alive`, AbortSignal.any([abort.signal, ...(signal ? [signal] : [])]));
      const status = await withDeadline(probe, probeMs, () => {
        abort.abort(new Error('probe timed out'));
        return new Error(`no answer within ${probeMs} ms`);
      });
      if (status === 200) return;
      last = `HTTP ${status}`;
    } catch (e) {
      signal?.throwIfAborted();
      last = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
    }
    const pause = hints.live ? NUDGED_POLL_MS : Date.now() - began < 3000 ? 10 * Math.max(1, Math.ceil(inFlight / 4)) : 100;
    if (Date.now() >= deadline) throw new Error(`its server did not answer /alive within ${timeoutMs} ms (last: ${last})`);
    await hints.pause(Math.min(pause, deadline - Date.now()));
  }
}

/**
 * One GET on a connection of its own, answering the status: node:http without an agent costs about
 * half of fetch here, and keeps no pool per sandbox address. Rejects with the socket's error code.
 */
function get(url: string, signal: AbortSignal): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, signal }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('error', (e: NodeJS.ErrnoException) => reject(Object.assign(new Error(e.code ?? e.message), { cause: { code: e.code ?? e.name } })));
  });
}
