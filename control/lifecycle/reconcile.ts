// At start (and when the backend answers again after it did not): the records and the backend's
// sandboxes (found by this service's labels) made to agree. The record is the truth, since every
// change is written before the driver call that makes it real: a sandbox with no live record is
// removed, a start cut short is undone, a live record whose sandbox is gone is stopped, and a
// sandbox is paused or resumed to match its record. Deaths the backend counted while the service
// was away (Docker's RestartCount, an exited state) are added to the record's restart_count.
import { LABELS, type Driver, type SandboxState } from '../driver.js';
import { deathReason, deathsOf, isStarting } from './deaths.js';
import type { Store, StoredRuntime } from './store.js';
import type { EventLog } from './events.js';

/** The reason of a death the service did not see, whose exit status the backend no longer holds. */
export const DIED_AWAY = 'died while the service was away (restarted by the backend)';

export interface ReconcileResult {
  /** Sandboxes removed: no record, a stopped record, or a start cut short. */
  removed: number;
  /** Records stopped because their sandbox was gone or their start was cut short. */
  stopped: number;
  /** Records marked failed: their sandbox had exited while the service was away. */
  failed: number;
  /** Records whose sandbox died and was restarted by the backend while the service was away (their /alive is probed again). */
  restarted: number;
}

export const CUT_SHORT = 'the service stopped while it was being started';

/** `busy`: runtimes an operation of this service is changing now (a start, a come-back): left alone. */
export async function reconcile(store: Store, driver: Driver, serviceLabels: Record<string, string>, log: EventLog, busy: (runtimeId: string) => boolean = () => false): Promise<ReconcileResult> {
  const result: ReconcileResult = { removed: 0, stopped: 0, failed: 0, restarted: 0 };
  const matched = new Map<string, SandboxState>();
  for (const sandbox of await driver.list(serviceLabels)) {
    const runtimeId = sandbox.labels[LABELS.runtimeId];
    const record = runtimeId ? store.get(runtimeId) : undefined;
    let why: string | undefined;
    if (record && busy(record.runtimeId)) continue;
    if (!record) why = 'it has no record';
    else if (record.status === 'stopped') why = 'its runtime is stopped';
    else if (record.sandboxId !== null && record.sandboxId !== sandbox.id) why = 'its runtime has another sandbox';
    else if (isStarting(record)) {
      stopRecord(store, record, CUT_SHORT, 'failed', log);
      result.stopped++;
      why = CUT_SHORT;
    } else if (matched.has(record.runtimeId)) why = 'its runtime has another sandbox';
    if (why) {
      await driver.remove(sandbox.id);
      log.event('reaped', record ?? { runtimeId: runtimeId ?? null, sessionId: sandbox.labels[LABELS.sessionId] ?? '' }, `sandbox ${sandbox.id} removed at start: ${why}`);
      result.removed++;
      continue;
    }
    matched.set(record!.runtimeId, sandbox);
  }
  for (const record of store.liveRuntimes()) {
    if (busy(record.runtimeId)) continue;
    const sandbox = matched.get(record.runtimeId);
    if (!sandbox) {
      const starting = isStarting(record);
      stopRecord(store, record, starting ? CUT_SHORT : 'its sandbox was gone when the service started', starting ? 'failed' : 'not found', log);
      result.stopped++;
      continue;
    }
    let current = record;
    if (sandbox.url && sandbox.url !== record.directUrl && sandbox.status !== 'exited') current = store.update(record.runtimeId, { directUrl: sandbox.url });
    const exited = sandbox.status === 'exited' || sandbox.status === 'created' || sandbox.status === 'unknown';
    const missed = Math.max(0, deathsOf(sandbox) - current.restartCount);
    if (current.warm && (exited || missed > 0)) {
      stopRecord(store, current, 'its sandbox had died when the service started', 'failed', log);
      await driver.remove(sandbox.id);
      result.stopped++;
    } else if (exited) {
      if (current.podStatus !== 'failed') {
        const reasons = [...Array(Math.max(0, missed - 1)).fill(DIED_AWAY), deathReason(sandbox.exitCode, sandbox.oomKilled === true)];
        store.update(current.runtimeId, { podStatus: 'failed', directUrl: null, restartCount: current.restartCount + reasons.length, restartReasons: [...current.restartReasons, ...reasons] });
        log.event('failed', current, reasons.at(-1));
        result.failed++;
      }
    } else if (missed > 0) {
      // Restarted by the backend while the service was away: probed again before it is ready
      // (the lifecycle does that after this), at its new address.
      const last = sandbox.status === 'restarting' ? deathReason(sandbox.exitCode, sandbox.oomKilled === true) : DIED_AWAY;
      const reasons = [...Array(missed - 1).fill(DIED_AWAY), last];
      const down = store.update(current.runtimeId, {
        podStatus: current.podStatus === 'crashloopbackoff' ? 'crashloopbackoff' : 'running',
        directUrl: sandbox.status === 'running' ? sandbox.url : null,
        restartCount: current.restartCount + missed,
        restartReasons: [...current.restartReasons, ...reasons],
      });
      log.event('restarting', down, last, { restartCount: down.restartCount, podStatus: down.podStatus });
      result.restarted++;
    } else if (sandbox.status === 'running' && current.status === 'paused') {
      await driver.pause(sandbox.id);
    } else if (sandbox.status === 'paused' && current.status === 'running') {
      await driver.resume(sandbox.id);
    }
  }
  return result;
}

/**
 * Removes every sandbox of the service that no live record claims (no record, a stopped one, or a
 * runtime with another sandbox). A sandbox being made for a live record is claimed by it before
 * the driver is asked. This catches what reconciliation cannot see: a create the engine finishes
 * after the service that asked for it was killed (its record already stopped), and a removal that
 * failed. Answers how many it removed.
 */
export async function sweep(store: Store, driver: Driver, serviceLabels: Record<string, string>, log: EventLog): Promise<number> {
  let removed = 0;
  for (const sandbox of await driver.list(serviceLabels)) {
    const runtimeId = sandbox.labels[LABELS.runtimeId];
    const record = runtimeId ? store.get(runtimeId) : undefined;
    if (record && record.status !== 'stopped' && (record.sandboxId === null || record.sandboxId === sandbox.id)) continue;
    await driver.remove(sandbox.id);
    log.event('reaped', record ?? { runtimeId: runtimeId ?? null, sessionId: sandbox.labels[LABELS.sessionId] ?? '' }, `sandbox ${sandbox.id} removed: no live runtime claims it`);
    removed++;
  }
  return removed;
}

function stopRecord(store: Store, record: StoredRuntime, reason: string, podStatus: 'failed' | 'not found', log: EventLog): void {
  store.update(record.runtimeId, { status: 'stopped', podStatus, stopReason: reason, directUrl: null, pausedAt: null });
  log.event('stopped', record, reason);
}
