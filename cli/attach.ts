// What `run` (the local Docker engine) and `run --api` (a runtime API service) share while they
// hold a runtime in the foreground: the signals, the start, the watch for the runtime going away,
// the progress lines, and the -e KEY=VALUE flags.
import type { ProgressEvent } from '@runtime-client/client';
import { UsageError } from './errors.js';

/** How often an attached command checks that its runtime is still there, in ms. */
const WATCH_INTERVAL_MS = 2000;

/**
 * SIGINT and SIGTERM while attached. A signal during the start (a build can take minutes) is kept
 * and acted on once the runtime is held; a second one leaves at once (exit 130).
 */
export class Attachment {
  /** The first SIGINT or SIGTERM received, or null. */
  signal: NodeJS.Signals | null = null;
  private started = false;
  private wake: () => void = () => {};

  /**
   * `waitingFor` names what a second signal stops waiting for (`the container`); `fate` what
   * becomes of the runtime after a signal (`removed`).
   */
  constructor(waitingFor: string, fate: string) {
    const onSignal = (signal: NodeJS.Signals) => {
      if (this.signal) {
        process.stderr.write(`runtime-client: ${signal} again, leaving without waiting for ${waitingFor}\n`);
        process.exit(130);
      }
      this.signal = signal;
      if (!this.started) process.stderr.write(`${signal}: the runtime is ${fate} as soon as it has started (again to leave now)\n`);
      this.wake();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }

  /** The runtime `start` resolves to; a TypeError (an option the backend refuses) is a usage error. */
  async start<T>(start: () => Promise<T>): Promise<T> {
    let runtime: T;
    try {
      runtime = await start();
    } catch (e) {
      if (e instanceof TypeError) throw new UsageError(e.message);
      throw e;
    }
    this.started = true;
    return runtime;
  }

  /**
   * Waits for a signal (resolves null) or for the runtime to go away: `check` is asked every
   * WATCH_INTERVAL_MS and resolves the reason it is gone, or null while it is there; a rejection
   * (the backend hiccuped) is asked again next time.
   */
  async until(check: () => Promise<string | null>): Promise<string | null> {
    let gone: string | null = null;
    const watcher = setInterval(() => {
      void check().then(
        (reason) => {
          if (reason === null) return;
          gone = reason;
          this.wake();
        },
        () => {},
      );
    }, WATCH_INTERVAL_MS);
    await new Promise<void>((resolve) => {
      this.wake = resolve;
      if (this.signal) resolve();
    });
    clearInterval(watcher);
    return gone;
  }
}

/** A start's progress, one line on stderr: `[  1.2 s] phase: message`. */
export function printProgress(event: ProgressEvent): void {
  process.stderr.write(`[${(event.elapsedMs / 1000).toFixed(1).padStart(5)} s] ${event.phase}: ${event.message}\n`);
}

/** `-e KEY=VALUE` flags as an environment; a pair without a key is a usage error. */
export function parseEnv(pairs: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at < 1) throw new UsageError(`--env takes KEY=VALUE, got ${JSON.stringify(pair)}`);
    env[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return env;
}
