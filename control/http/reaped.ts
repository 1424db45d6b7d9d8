// The reaper's work for /metrics, counted from the lifecycle's event lines (lifecycle/events.ts):
// `expired` (TTL), `reaped` (paused longer than --paused-ttl) and `paused` for an idle reason.
// The Lifecycle interface has no counter of its own; this reads what it already logs.
import type { LogFn } from 'pino';

export class ReapedCounter {
  total = 0;

  /** A pino logMethod hook: counts, then logs as asked (pino calls it with the logger as `this`). */
  get hook(): (this: unknown, args: Parameters<LogFn>, method: LogFn) => void {
    const counter = this;
    return function (this: unknown, args, method) {
      const fields = args[0] as { event?: unknown; reason?: unknown } | null;
      if (fields && typeof fields === 'object') {
        const { event, reason } = fields;
        if (event === 'expired' || event === 'reaped' || (event === 'paused' && typeof reason === 'string' && reason.startsWith('idle'))) counter.total++;
      }
      method.apply(this, args as never);
    };
  }
}
