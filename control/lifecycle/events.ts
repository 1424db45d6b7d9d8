// One pino line per lifecycle event, with the runtime id, the session and the reason. Only those
// fields (and the few given as extra) are written: a record, which holds the key, never is.
import pino from 'pino';

export type Logger = pino.Logger;

/** `restarting`: its sandbox died and the backend starts it again; `failed`: it died for good. */
export type LifecycleEvent = 'started' | 'ready' | 'paused' | 'resumed' | 'renewed' | 'expired' | 'reaped' | 'stopped' | 'failed' | 'restarting';

export class EventLog {
  constructor(readonly logger: Logger = pino({ level: 'silent' })) {}

  event(
    event: LifecycleEvent,
    runtime: { runtimeId: string | null; sessionId: string; warm?: boolean },
    reason?: string,
    extra?: Record<string, string | number | boolean | null>,
  ): void {
    const level = event === 'failed' || event === 'restarting' ? 'warn' : 'info';
    this.logger[level]({ event, runtimeId: runtime.runtimeId, session: runtime.sessionId || null, ...(runtime.warm ? { warm: true } : {}), ...(reason ? { reason } : {}), ...extra }, `runtime ${event}`);
  }
}
