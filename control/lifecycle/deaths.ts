// A sandbox that dies behind the service's back: why (its reason in restart_reasons), whether the
// backend brings it back (Docker's restart policy on-failure, at most 3 times), and the crash-loop
// rule. Pure functions over a record and what the driver says of its sandbox.
import type { SandboxState } from '../driver.js';
import type { StoredRuntime } from './store.js';

/** A death this soon after the previous one (ms) is a crash loop: pod_status crashloopbackoff until /alive answers again. */
export const CRASH_LOOP_WINDOW_MS = 60_000;

/**
 * An OOM kill in the sandbox at most this long (ms) before it died with status 137 makes the
 * reason `OOMKilled`. Docker's own OOMKilled flag says only that the kernel killed *some* process
 * of the container (a command that allocated too much, say), and stays set after a restart.
 */
export const OOM_WINDOW_MS = 5_000;

/** tini's status when its child (runtime-client) was killed with SIGKILL, as the OOM killer does. */
const KILLED = 137;

/** The reason a death is recorded with: `OOMKilled` or `exited with status N`. */
export function deathReason(exitCode: number | undefined, oomKilled: boolean): string {
  return oomKilled && exitCode === KILLED ? 'OOMKilled' : `exited with status ${exitCode ?? 'unknown'}`;
}

/** Whether the backend is starting the sandbox again (it died, and its restart policy applies). */
export function comingBack(state: SandboxState | null): boolean {
  return state !== null && (state.status === 'restarting' || state.status === 'running');
}

/** The pod status of a runtime whose sandbox died at `at` and comes back: crashloopbackoff when it died within the window before. */
export function statusWhileBack(record: StoredRuntime, at: number): 'running' | 'crashloopbackoff' {
  const last = record.lastDeathAt ?? null;
  return last !== null && at - last < CRASH_LOOP_WINDOW_MS ? 'crashloopbackoff' : 'running';
}

/** How often the backend saw the sandbox die: each restart, plus the last death once it stays exited. */
export function deathsOf(state: SandboxState): number {
  return state.restartCount + (state.status === 'exited' ? 1 : 0);
}

/** A record's pod status while its sandbox comes back after a death (not a start: those have never died). */
export function isComingBack(record: StoredRuntime): boolean {
  return (record.podStatus === 'running' && record.restartCount > 0) || record.podStatus === 'crashloopbackoff';
}

/** A record whose start was under way (pending, or running before its first /alive). */
export function isStarting(record: StoredRuntime): boolean {
  return record.podStatus === 'pending' || (record.podStatus === 'running' && record.restartCount === 0);
}
