// How long the client waits for an action's observation: always derived from the action's own
// timeout, never a fixed cap, so a long command with a long timeout is never cut short.
import type { ActionInput } from './types.js';

export interface WaitPolicy {
  /** Added to the action's own wait, in ms. */
  marginMs: number;
  /** The wait for a non-blocking action without a timeout (the server's soft timeout ends it), in ms. */
  defaultActionTimeoutMs: number;
}

export interface ActionWait {
  /** The whole wait (own timeout plus margin), in ms; null: wait as long as it takes. */
  totalMs: number | null;
  /**
   * True when the wait only bounds silence: nothing set a timeout, so the server's soft timeout
   * (no new output) ends the action. A stream restarts the clock at each frame; an HTTP call,
   * which sees no output, counts from the start.
   */
  idle: boolean;
}

/**
 * - `timeoutMs` given: that, plus the margin.
 * - the action has `timeout` (seconds): that, plus the margin.
 * - a blocking (or `is_static`) run without either: no limit, the server waits for completion.
 * - otherwise: `defaultActionTimeoutMs` plus the margin.
 */
export function actionWait(action: ActionInput, timeoutMs: number | undefined, policy: WaitPolicy): ActionWait {
  if (timeoutMs !== undefined) return { totalMs: timeoutMs + policy.marginMs, idle: false };
  if (typeof action.timeout === 'number' && action.timeout > 0) return { totalMs: action.timeout * 1000 + policy.marginMs, idle: false };
  const args = action.args ?? {};
  if (action.action === 'run' && (args.blocking === true || args.is_static === true)) return { totalMs: null, idle: false };
  return { totalMs: policy.defaultActionTimeoutMs + policy.marginMs, idle: true };
}
