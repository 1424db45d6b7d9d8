// Waiting on something that runs (a command in a shell, a Python cell) for an action: until it
// completes, its hard timeout, or, unless the action blocks, a stretch with no new output. What
// it waited on keeps running either way: timeouts never kill.

/** How an action's wait ended; `refused` is an action that never waited (another one runs). */
export type Ending = 'done' | 'soft' | 'hard' | 'refused';

/** What a waiter needs of the thing it waits on; the owner sets `completion`, `lastOutputAt` and calls `wake`. */
export interface Waitable<Sink> {
  completion: unknown;
  /** Where its output goes while an action waits on it. */
  sink: Sink | null;
  /** Called by the owner when it completes (set while an action waits). */
  wake: (() => void) | null;
  /** Told how the current wait ended (input sent during it answers then). */
  settled: ((ending: Ending) => void)[];
  lastOutputAt: number;
}

/**
 * Waits for `job`: 'done' once it completed, 'hard' after `timeoutSeconds`, 'soft' after
 * `softSeconds` with no new output (null: the action blocks, no soft timeout). The output goes to
 * `sink` meanwhile; `settled` listeners are told the ending before this resolves.
 */
export function waitForEnding<Sink>(job: Waitable<Sink>, sink: Sink | null, timeoutSeconds: number | undefined, softSeconds: number | null): Promise<Ending> {
  return new Promise((resolve) => {
    const timers: NodeJS.Timeout[] = [];
    const finish = (ending: Ending) => {
      timers.forEach(clearTimeout);
      job.wake = null;
      job.settled.splice(0).forEach((notify) => notify(ending));
      job.sink = null;
      resolve(ending);
    };
    if (job.completion) return finish('done');
    job.sink = sink;
    job.wake = () => finish('done');
    if (timeoutSeconds !== undefined) timers.push(setTimeout(() => finish('hard'), timeoutSeconds * 1000));
    if (softSeconds !== null) {
      const softMs = softSeconds * 1000;
      job.lastOutputAt = Date.now();
      const check = () => {
        const quiet = Date.now() - job.lastOutputAt;
        if (quiet >= softMs) finish('soft');
        else timers.push(setTimeout(check, softMs - quiet));
      };
      timers.push(setTimeout(check, softMs));
    }
  });
}
