// The lifecycle core (api.ts's Lifecycle) over a Driver: starts (single flight per session,
// capacity, the warm pool, waiting for /alive), pause/resume/stop/renew, the reaper's clocks, the
// driver's events, and reconciliation at open. Every state change is written to the store
// (synced) BEFORE the driver call that makes it real, so that a service killed at any point finds,
// at its next open, a record that says what to finish or undo (reconcile.ts).
import { randomBytes } from 'node:crypto';
import { DriverError, LABELS, type Driver, type DriverEvent, type SandboxSpec } from '../driver.js';
import { LifecycleError, type Lifecycle, type LifecycleOptions, type RuntimeRecord, type StartParams } from './api.js';
import type { RuntimeStatus } from '@runtime-client/protocol';
import { waitAlive, type Readiness } from './alive.js';
import { configure } from './configure.js';
import { Alarm, nextDue } from './clocks.js';
import { comingBack, deathReason, isComingBack, OOM_WINDOW_MS, statusWhileBack } from './deaths.js';
import { EventLog, type Logger } from './events.js';
import { resolveLimits, checkTtl, type Limits } from './limits.js';
import { reconcile, sweep, type ReconcileResult } from './reconcile.js';
import { Store, type StoredRuntime } from './store.js';
import { servesFromWarm, WarmRefill } from './warm.js';

/** The value of LABELS.managed on every sandbox the service makes. */
export const MANAGED_BY = 'runtime-client-api';

/** What the service needs beyond LifecycleOptions; each has a default. */
export interface LifecycleExtras {
  /** Lifecycle events go here (default: none). */
  logger?: Logger;
  /** How long a new runtime's /alive has to answer 200, in ms (default 60000). */
  aliveTimeoutMs?: number;
  /** Most processes in a sandbox (default 4096). */
  pidsLimit?: number;
  /**
   * How often the service's sandboxes are swept for ones no live runtime claims, in ms (default
   * 60000; the first sweep comes 5 s after open, to catch a create the engine finished after the
   * previous service was killed).
   */
  sweepIntervalMs?: number;
}

/** Milliseconds a touch may go unwritten: the idle clock survives a restart to within this. */
const TOUCH_WRITE_MS = 1000;
/** Milliseconds before the reaper tries again a runtime whose pause or stop failed. */
const REAP_RETRY_MS = 5000;
/** While the backend does not answer, it is pinged this often (ms); once it answers, the service reconciles. */
const BACKEND_PROBE_MS = 1000;
/** How often a sandbox coming back after a death is inspected until it runs again, in ms. */
const COMING_BACK_POLL_MS = 100;

/** Opens the state dir, reconciles it with the driver's sandboxes, and starts the clocks. */
export async function openLifecycle(driver: Driver, options: LifecycleOptions, extras: LifecycleExtras = {}): Promise<RuntimeLifecycle> {
  const lifecycle = new RuntimeLifecycle(driver, options, extras);
  try {
    await lifecycle.open();
  } catch (e) {
    await lifecycle.close();
    throw e;
  }
  return lifecycle;
}

export class RuntimeLifecycle implements Lifecycle {
  private readonly store: Store;
  private readonly log: EventLog;
  /** The labels every sandbox of this service carries (its state dir's id). */
  readonly serviceLabels: Record<string, string>;
  private readonly starting = new Map<string, Promise<RuntimeRecord>>();
  private readonly locks = new Map<string, Promise<unknown>>();
  /** Starts in progress, by runtime id: a sandbox that dies while starting aborts its wait. */
  private readonly bringingUp = new Map<string, AbortController>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly reaping = new Set<string>();
  private readonly reapRetryAt = new Map<string, number>();
  private readonly touchWrittenAt = new Map<string, number>();
  /** When the backend last told of an OOM kill in a sandbox (ms since the epoch), by sandbox id. */
  private readonly oomAt = new Map<string, number>();
  /** Runtimes whose sandbox died and is coming back: their probe, aborted by a stop, another death or close. */
  private readonly recovering = new Map<string, AbortController>();
  /** Why the backend is taken to be down (it did not answer), or null while it answers. */
  private backendDown: string | null = null;
  private backendProbe: NodeJS.Timeout | undefined;
  private readonly alarm: Alarm;
  private readonly refill: WarmRefill;
  private unwatch: (() => void) | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping: Promise<number> | undefined;
  private closed = false;
  /** What reconciliation at open found and did. */
  reconciled: ReconcileResult | undefined;

  constructor(
    private readonly driver: Driver,
    private readonly options: LifecycleOptions,
    private readonly extras: LifecycleExtras = {},
  ) {
    this.store = new Store(options.stateDir);
    this.log = new EventLog(extras.logger);
    this.serviceLabels = { [LABELS.managed]: MANAGED_BY, [LABELS.service]: this.store.serviceId };
    this.alarm = new Alarm(() => this.reap());
    this.refill = new WarmRefill(
      options.warm,
      (image) => this.store.liveRuntimes().filter((r) => r.warm && r.image === image).length,
      (image) => this.track(this.makeWarm(image)),
      (image, error) => this.log.logger.error({ image, err: (error as Error).message }, 'a warm sandbox could not be made'),
    );
  }

  async open(): Promise<void> {
    try {
      // A ping first: an engine that accepts and never answers costs its timeout (5 s for Docker), not a call's (60 s).
      await this.driver.ping();
      await this.reconcileNow();
    } catch (e) {
      // The service starts without its backend: reads answer from the store, the rest 503
      // backend_unavailable, and the reconciliation runs once the backend answers.
      if (!isBackendDown(e)) throw e;
      this.markDown(e);
    }
    this.unwatch = this.driver.watch(this.serviceLabels, (event) => this.onDriverEvent(event));
    this.store.prune(Date.now() - 7 * 24 * 3600 * 1000);
    this.schedule();
    if (!this.backendDown) this.refill.fill();
    const every = this.extras.sweepIntervalMs ?? 60_000;
    const next = (ms: number) => {
      this.sweepTimer = setTimeout(() => {
        this.sweep()
          .catch((e) => this.log.logger.error({ err: (e as Error).message }, 'the sweep for unclaimed sandboxes failed'))
          .finally(() => next(every));
      }, ms);
      this.sweepTimer.unref();
    };
    next(Math.min(5000, every));
  }

  /** Removes the service's sandboxes that no live runtime claims (see reconcile.ts); answers how many. */
  sweep(): Promise<number> {
    if (this.closed || this.backendDown) return Promise.resolve(0);
    this.sweeping ??= this.track(sweep(this.store, this.driver, this.serviceLabels, this.log)).finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  // ---- reads

  get(runtimeId: string): RuntimeRecord | undefined {
    const r = this.store.get(runtimeId);
    return r && !r.warm ? r : undefined;
  }

  bySession(sessionId: string): RuntimeRecord | undefined {
    return this.store.bySession(sessionId);
  }

  list(status?: RuntimeStatus): RuntimeRecord[] {
    return this.store.list(status);
  }

  /** Why the backend is taken to be down (a driver call found it not answering), or null while it answers. */
  backendUnavailable(): string | null {
    return this.backendDown;
  }

  counts(): { running: number; paused: number } {
    const live = this.store.liveRuntimes().filter((r) => !r.warm);
    return { running: live.filter((r) => r.status === 'running').length, paused: live.filter((r) => r.status === 'paused').length };
  }

  /** The warm pool by image: sandboxes ready to hand out, ones being made, and the ids of both. */
  warmPool(): Record<string, { ready: number; starting: number; sandboxIds: string[] }> {
    const out: Record<string, { ready: number; starting: number; sandboxIds: string[] }> = {};
    for (const image of Object.keys(this.options.warm)) out[image] = { ready: 0, starting: 0, sandboxIds: [] };
    for (const r of this.store.liveRuntimes()) {
      if (!r.warm) continue;
      const entry = (out[r.image] ??= { ready: 0, starting: 0, sandboxIds: [] });
      if (r.podStatus === 'ready') entry.ready++;
      else entry.starting++;
      if (r.sandboxId) entry.sandboxIds.push(r.sandboxId);
    }
    return out;
  }

  // ---- start

  start(params: StartParams): Promise<RuntimeRecord> {
    if (this.closed) return Promise.reject(new LifecycleError('backend_unavailable', 'the lifecycle is closed'));
    try {
      if (typeof params.sessionId !== 'string' || !params.sessionId) throw new LifecycleError('bad_request', 'session_id is required', 'session_id');
      if (typeof params.image !== 'string' || !params.image) throw new LifecycleError('bad_request', 'image is required', 'image');
      const limits = resolveLimits(params, this.options);
      const joined = this.starting.get(params.sessionId);
      if (joined) return joined;
      const started = this.track(this.startOnce(params, limits)).finally(() => this.starting.delete(params.sessionId));
      this.starting.set(params.sessionId, started);
      return started;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  private async startOnce(params: StartParams, limits: Limits, coldOnly = false): Promise<RuntimeRecord> {
    const existing = this.liveOf(params.sessionId);
    if (existing) {
      if (existing.status === 'paused' && existing.podStatus !== 'failed') return this.resume(existing.runtimeId);
      if (existing.podStatus === 'ready') {
        this.touch(existing.runtimeId);
        return this.store.get(existing.runtimeId)!;
      }
      if (existing.podStatus !== 'failed') {
        // Being started or changed by another call: its answer once that call is done.
        await this.locked(existing.runtimeId, async () => undefined);
        return this.startOnce(params, limits, coldOnly);
      }
      // Failed (its sandbox died): the session gets a new one.
      await this.stopRuntime(existing.runtimeId, `replaced by a new start: its sandbox had failed (${existing.restartReasons.at(-1) ?? existing.podStatus})`, false);
    }
    this.assertBackend('nothing was created');
    // From here to the record's insert nothing awaits: the capacity check and the insert are one step.
    const live = this.store.liveRuntimes().filter((r) => !r.warm);
    if (live.length >= this.options.maxRuntimes) {
      const retryAfterSeconds = this.retryHint(live);
      throw new LifecycleError('too_many_runtimes', `${live.length} runtimes are running or paused, the most --max-runtimes allows (${this.options.maxRuntimes}); nothing was created`, undefined, retryAfterSeconds);
    }
    const now = Date.now();
    const clocks = { sessionId: params.sessionId, warm: false, expiresAt: now + limits.ttlSeconds * 1000, lastActivityAt: now, idleTimeoutSeconds: limits.idleTimeoutSeconds };
    if (!coldOnly && servesFromWarm(params, limits, this.options)) {
      const warm = this.store.liveRuntimes().find((r) => r.warm && r.image === params.image && r.status === 'running' && r.podStatus === 'ready');
      if (warm) {
        // Taken in the same step as the capacity check, with the session's new key; its server
        // still knows only the start key, which never leaves the service. A service killed before
        // /configure answered finds it `pending` and removes it, as any start cut short.
        const startKey = warm.apiKey;
        const taken = this.store.update(warm.runtimeId, { ...clocks, apiKey: randomBytes(32).toString('hex'), podStatus: 'pending' });
        this.log.event('started', taken, 'from the warm pool', { image: taken.image });
        this.refill.fill();
        return (await this.handOut(taken, startKey, params, now)) ?? this.startOnce(params, limits, true);
      }
    }
    const record = this.insertNew(params.image, now, { ...clocks, cpus: limits.cpus, memoryMb: limits.memoryMb });
    this.log.event('started', record, undefined, { image: record.image, cpus: record.cpus, memoryMb: record.memoryMb });
    return this.bringUp(record, params);
  }

  /**
   * Configures a warm sandbox taken for a session (POST /configure: the session's key,
   * environment, working dir and user) and marks it ready. When that fails the sandbox is removed
   * and undefined returned: the caller starts one cold.
   */
  private async handOut(taken: StoredRuntime, startKey: string, params: StartParams, began: number): Promise<RuntimeRecord | undefined> {
    const outcome = await this.locked(taken.runtimeId, async (): Promise<RuntimeRecord | string> => {
      const env = params.env ?? {};
      try {
        await configure(taken.directUrl!, startKey, {
          api_key: taken.apiKey,
          ...(Object.keys(env).length > 0 ? { environment: env } : {}),
          ...(params.workingDir ? { working_dir: params.workingDir } : {}),
          ...(params.username ? { username: params.username, ...(params.userId !== undefined ? { user_id: params.userId } : {}) } : {}),
        }, this.extras.aliveTimeoutMs ?? 60_000);
      } catch (e) {
        return (e as Error).message;
      }
      const now = this.store.get(taken.runtimeId);
      if (!now || now.status !== 'running' || now.podStatus !== 'pending') return `its sandbox changed while it was handed out (${now?.podStatus ?? 'gone'})`;
      const ready = this.store.update(taken.runtimeId, { podStatus: 'ready', lastActivityAt: Date.now() });
      this.log.event('ready', ready, undefined, { ms: Date.now() - began, warm: true });
      this.schedule();
      return ready;
    });
    if (typeof outcome !== 'string') return outcome;
    this.log.logger.warn({ runtimeId: taken.runtimeId, sessionId: taken.sessionId, err: outcome }, 'a warm sandbox could not be handed out: the start goes cold');
    await this.stopRuntime(taken.runtimeId, `the warm hand-out failed: ${outcome}`, false).catch(() => undefined);
    return undefined;
  }

  /** A warm sandbox of the image: recorded (synchronously, before any await), made, ready. */
  private makeWarm(image: string): Promise<RuntimeRecord> {
    const now = Date.now();
    const record = this.insertNew(image, now, {
      sessionId: '',
      warm: true,
      expiresAt: Number.MAX_SAFE_INTEGER,
      lastActivityAt: now,
      idleTimeoutSeconds: this.options.idleTimeout,
      cpus: this.options.baseCpus,
      memoryMb: this.options.baseMemoryMb,
    });
    this.log.event('started', record, 'warm pool refill', { image });
    return this.bringUp(record, { image, sessionId: '' }, true);
  }

  /** A new runtime's record, `pending`, with a fresh id and key; `given` holds its session, clocks and resources. */
  private insertNew(image: string, now: number, given: Pick<StoredRuntime, 'sessionId' | 'warm' | 'expiresAt' | 'lastActivityAt' | 'idleTimeoutSeconds' | 'cpus' | 'memoryMb'>): StoredRuntime {
    return this.store.insert({
      runtimeId: `rt-${randomBytes(12).toString('hex')}`,
      image,
      status: 'running',
      podStatus: 'pending',
      apiKey: randomBytes(32).toString('hex'),
      sandboxId: null,
      directUrl: null,
      createdAt: now,
      pausedAt: null,
      restartCount: 0,
      restartReasons: [],
      stopReason: null,
      ...given,
    });
  }

  /** Creates the record's sandbox and waits for its /alive; on failure removes it and stops the record. */
  private bringUp(record: StoredRuntime, params: StartParams, awaitConfig = false): Promise<RuntimeRecord> {
    return this.locked(record.runtimeId, async () => {
      const abort = new AbortController();
      this.bringingUp.set(record.runtimeId, abort);
      const began = Date.now();
      let sandboxId: string | null = null;
      try {
        const labels: Record<string, string> = { ...this.serviceLabels, [LABELS.runtimeId]: record.runtimeId };
        if (record.sessionId) labels[LABELS.sessionId] = record.sessionId;
        if (record.warm) labels[LABELS.warm] = 'true';
        const spec: SandboxSpec = {
          runtimeId: record.runtimeId,
          sessionId: record.sessionId,
          image: record.image,
          env: { ...(params.env ?? {}) },
          apiKey: record.apiKey,
          cpus: record.cpus,
          memoryMb: record.memoryMb,
          pidsLimit: this.extras.pidsLimit ?? 4096,
          labels,
          ...(params.workingDir ? { workingDir: params.workingDir } : {}),
          ...(params.username ? { username: params.username, ...(params.userId !== undefined ? { userId: params.userId } : {}) } : {}),
          ...(awaitConfig ? { awaitConfig: true } : {}),
          ...(params.runtimeClass ? { runtimeClass: params.runtimeClass } : {}),
        };
        const sandbox = await this.driver.create(spec, abort.signal);
        sandboxId = sandbox.id;
        this.store.update(record.runtimeId, { sandboxId: sandbox.id, directUrl: sandbox.url, podStatus: 'running' });
        if (!sandbox.url) throw new Error('the backend gave no URL for its server');
        await waitAlive(sandbox.url, this.extras.aliveTimeoutMs ?? 60_000, abort.signal, this.readinessOf(sandbox.id));
        const now = this.store.get(record.runtimeId)!;
        if (now.status === 'stopped' || now.podStatus === 'failed') throw new Error(`its sandbox failed while starting (${now.restartReasons.at(-1) ?? now.stopReason})`);
        const ready = this.store.update(record.runtimeId, { podStatus: 'ready', lastActivityAt: Date.now() });
        this.log.event('ready', ready, undefined, { ms: Date.now() - began });
        this.schedule();
        return ready;
      } catch (e) {
        const current = this.store.get(record.runtimeId);
        const why = abort.signal.aborted && current?.podStatus === 'failed' ? `its sandbox failed while starting (${current.restartReasons.at(-1)})` : (abort.signal.reason instanceof Error && abort.signal.aborted ? abort.signal.reason.message : (e as Error).message);
        const nothingMade = sandboxId === null && e instanceof DriverError && (e.code === 'image_not_found' || e.code === 'image_not_injectable' || e.code === 'bad_runtime_class');
        if (nothingMade) this.store.delete(record.runtimeId);
        else this.store.update(record.runtimeId, { status: 'stopped', podStatus: 'failed', directUrl: null, stopReason: `start failed: ${why}` });
        if (isBackendDown(e)) this.markDown(e);
        if (sandboxId !== null) await this.driver.remove(sandboxId).catch((err) => this.log.logger.error({ runtimeId: record.runtimeId, sandboxId, err: (err as Error).message }, 'a failed start left its sandbox: it goes at the next start of the service'));
        this.log.event('stopped', record, `start failed: ${why}`);
        throw toLifecycleError(e, why);
      } finally {
        this.bringingUp.delete(record.runtimeId);
      }
    });
  }

  // ---- pause, resume, stop, renew, touch

  pause(runtimeId: string, reason = 'requested'): Promise<RuntimeRecord> {
    return this.track(
      this.locked(runtimeId, async () => {
        const r = this.mustGet(runtimeId);
        if (r.status === 'paused') return r;
        if (r.status === 'stopped') throw new LifecycleError('conflict', `runtime ${runtimeId} is stopped; it cannot be paused`);
        if (r.podStatus !== 'ready') throw new LifecycleError('conflict', `runtime ${runtimeId} is not ready (pod_status ${r.podStatus}); it cannot be paused`);
        this.assertBackend('it runs on');
        // The event is logged as it is recorded (what /runtime answers from now on), before the driver acts.
        const paused = this.store.update(runtimeId, { status: 'paused', pausedAt: Date.now() });
        this.log.event('paused', paused, reason);
        try {
          await this.driver.pause(r.sandboxId!);
        } catch (e) {
          this.store.update(runtimeId, { status: 'running', pausedAt: null });
          this.log.logger.error({ runtimeId, session: r.sessionId, err: (e as Error).message }, 'the runtime could not be paused: it runs on');
          throw this.driverFailed(e);
        }
        this.schedule();
        return paused;
      }),
    );
  }

  resume(runtimeId: string): Promise<RuntimeRecord> {
    return this.track(
      this.locked(runtimeId, async () => {
        const r = this.mustGet(runtimeId);
        if (r.status === 'stopped') throw new LifecycleError('conflict', `runtime ${runtimeId} is stopped; start its session again for a new one`);
        if (r.status === 'running') return r;
        this.assertBackend('it stays paused');
        const resumed = this.store.update(runtimeId, { status: 'running', pausedAt: null, lastActivityAt: Date.now() });
        this.log.event('resumed', resumed);
        try {
          await this.driver.resume(r.sandboxId!);
        } catch (e) {
          this.store.update(runtimeId, { status: 'paused', pausedAt: r.pausedAt });
          this.log.logger.error({ runtimeId, session: r.sessionId, err: (e as Error).message }, 'the runtime could not be resumed: it stays paused');
          throw this.driverFailed(e);
        }
        this.schedule();
        return resumed;
      }),
    );
  }

  stop(runtimeId: string, reason = 'requested'): Promise<RuntimeRecord> {
    return this.stopRuntime(runtimeId, reason, false);
  }

  /** Stops a runtime (a warm one too when `warmToo`): the record first, then the sandbox's removal. */
  private stopRuntime(runtimeId: string, reason: string, warmToo: boolean): Promise<RuntimeRecord> {
    return this.track(
      this.locked(runtimeId, async () => {
        const r = this.mustGet(runtimeId, warmToo);
        if (r.status === 'stopped') return r;
        this.assertBackend('it is left as it is');
        const stopped = this.store.update(runtimeId, { status: 'stopped', podStatus: 'not found', directUrl: null, pausedAt: null, stopReason: reason });
        this.log.event('stopped', stopped, reason);
        this.recovering.get(runtimeId)?.abort(new Error('the runtime was stopped'));
        this.touchWrittenAt.delete(runtimeId);
        this.schedule();
        if (r.sandboxId) {
          try {
            await this.driver.remove(r.sandboxId);
          } catch (e) {
            this.log.logger.error({ runtimeId, sandboxId: r.sandboxId, err: (e as Error).message }, 'the sandbox of a stopped runtime could not be removed: the sweep removes it later');
            throw this.driverFailed(e);
          }
        }
        return stopped;
      }),
    );
  }

  renew(runtimeId: string, ttlSeconds: number): RuntimeRecord {
    const ttl = checkTtl(ttlSeconds, this.options);
    const r = this.mustGet(runtimeId);
    if (r.status === 'stopped') throw new LifecycleError('conflict', `runtime ${runtimeId} is stopped; it cannot be renewed`);
    const renewed = this.store.update(runtimeId, { expiresAt: Date.now() + ttl * 1000 });
    this.log.event('renewed', renewed, undefined, { ttlSeconds: ttl, expiresAt: new Date(renewed.expiresAt).toISOString() });
    this.schedule();
    return renewed;
  }

  touch(runtimeId: string): void {
    const r = this.store.get(runtimeId);
    if (!r || r.warm || r.status === 'stopped') return;
    const now = Date.now();
    if (now - (this.touchWrittenAt.get(runtimeId) ?? 0) >= TOUCH_WRITE_MS) {
      this.store.update(runtimeId, { lastActivityAt: now });
      this.touchWrittenAt.set(runtimeId, now);
    } else {
      this.store.setInMemory(runtimeId, { lastActivityAt: now });
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.alarm.close();
    this.refill.close();
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    if (this.backendProbe) clearInterval(this.backendProbe);
    this.unwatch?.();
    for (const abort of this.recovering.values()) abort.abort(new Error('the service is closing'));
    // Starts of warm sandboxes nobody waits for are cut short (their sandboxes removed, as any failed start's).
    for (const [runtimeId, abort] of this.bringingUp) if (this.store.get(runtimeId)?.warm) abort.abort(new Error('the service is closing'));
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
    this.store.close();
  }

  // ---- the reaper

  /** Re-arms the alarm to the earliest deadline of every live runtime. */
  private schedule(): void {
    if (this.closed) return;
    let earliest = Infinity;
    for (const r of this.store.liveRuntimes()) {
      if (this.reaping.has(r.runtimeId)) continue;
      const due = nextDue(r, this.options.pausedTtl);
      if (due) earliest = Math.min(earliest, Math.max(due.at, this.reapRetryAt.get(r.runtimeId) ?? 0));
    }
    this.alarm.set(earliest);
  }

  private reap(): void {
    if (this.closed) return;
    const now = Date.now();
    for (const r of this.store.liveRuntimes()) {
      if (this.reaping.has(r.runtimeId) || this.bringingUp.has(r.runtimeId)) continue;
      const due = nextDue(r, this.options.pausedTtl);
      if (!due || due.at > now || (this.reapRetryAt.get(r.runtimeId) ?? 0) > now) continue;
      this.reaping.add(r.runtimeId);
      let action: Promise<unknown>;
      if (due.kind === 'idle') {
        action = this.pause(r.runtimeId, `idle for ${r.idleTimeoutSeconds} s`);
      } else if (due.kind === 'expired') {
        this.log.event('expired', r, 'its TTL ran out', { expiresAt: new Date(r.expiresAt).toISOString() });
        action = this.stop(r.runtimeId, 'expired');
      } else {
        const reason = `paused longer than --paused-ttl (${this.options.pausedTtl} s)`;
        this.log.event('reaped', r, reason);
        action = this.stop(r.runtimeId, reason);
      }
      action
        .then(
          () => this.reapRetryAt.delete(r.runtimeId),
          (e) => {
            // Idle may lose a race with a touch or a stop: only a real failure waits to be retried.
            if (!(e instanceof LifecycleError && e.code === 'conflict')) this.reapRetryAt.set(r.runtimeId, Date.now() + REAP_RETRY_MS);
            this.log.logger.error({ runtimeId: r.runtimeId, err: (e as Error).message }, `the reaper could not ${due.kind === 'idle' ? 'pause' : 'stop'} a runtime`);
          },
        )
        .finally(() => {
          this.reaping.delete(r.runtimeId);
          this.schedule();
        });
    }
    this.schedule();
  }

  // ---- the driver's events

  private onDriverEvent(event: DriverEvent): void {
    if (this.closed) return;
    if (event.kind === 'oom') {
      this.oomAt.set(event.id, Date.now());
      return;
    }
    if (event.kind === 'destroy') this.oomAt.delete(event.id);
    if (event.kind !== 'die') return;
    const runtimeId = event.labels[LABELS.runtimeId];
    const r = runtimeId ? this.store.get(runtimeId) : undefined;
    if (!r || r.status === 'stopped' || (r.sandboxId !== null && r.sandboxId !== event.id)) return;
    const diedAt = Date.now();
    this.track(
      (async () => {
        const state = await this.driver.inspect(event.id).catch(() => null);
        const exitCode = event.exitCode ?? state?.exitCode;
        // An OOM kill told just before a death by SIGKILL; without the event stream's word, the engine's flag.
        const oomAt = this.oomAt.get(event.id);
        const reason = deathReason(exitCode, oomAt !== undefined ? diedAt - oomAt < OOM_WINDOW_MS : state?.oomKilled === true);
        const now = this.store.get(r.runtimeId);
        if (!now || now.status === 'stopped' || now.podStatus === 'failed') return;
        if (now.warm && now.podStatus === 'ready') {
          await this.stopRuntime(r.runtimeId, `warm sandbox died: ${reason}`, true).catch(() => undefined);
          this.refill.fill();
          return;
        }
        this.recovering.get(r.runtimeId)?.abort(new Error(`it died again: ${reason}`));
        const changes = { restartCount: now.restartCount + 1, restartReasons: [...now.restartReasons, reason], lastDeathAt: diedAt };
        if (comingBack(state) && !this.bringingUp.has(r.runtimeId) && now.status === 'running') {
          // The backend starts it again (Docker: restart policy on-failure): running until its /alive answers.
          const down = this.store.update(r.runtimeId, { ...changes, podStatus: statusWhileBack(now, diedAt), directUrl: null });
          this.log.event('restarting', down, reason, { restartCount: down.restartCount, podStatus: down.podStatus });
          this.recover(down);
        } else {
          // For good: the backend gave up (Docker: 3 restarts, or an exit 0), or it died while starting.
          const failed = this.store.update(r.runtimeId, { ...changes, podStatus: 'failed' });
          this.log.event('failed', failed, reason);
          this.bringingUp.get(r.runtimeId)?.abort(new Error(`its sandbox ${reason}`));
        }
        this.schedule();
      })(),
    );
  }

  /**
   * Follows a runtime whose sandbox died and is being started again by the backend: waits until the
   * sandbox runs (its address may have changed: it is inspected again), then for its /alive, and
   * marks it ready. A sandbox that does not come back within the alive timeout is failed.
   */
  private recover(r: StoredRuntime): void {
    this.recovering.get(r.runtimeId)?.abort(new Error('a newer death'));
    const abort = new AbortController();
    this.recovering.set(r.runtimeId, abort);
    const deaths = r.restartCount;
    const began = Date.now();
    const timeoutMs = this.extras.aliveTimeoutMs ?? 60_000;
    const stillOurs = () => {
      const now = this.store.get(r.runtimeId);
      return now && now.status === 'running' && now.restartCount === deaths && !abort.signal.aborted && !this.closed ? now : undefined;
    };
    this.track(
      (async () => {
        let url: string | null = null;
        for (;;) {
          abort.signal.throwIfAborted();
          const state = await this.driver.inspect(r.sandboxId!);
          // Exited for good: its die event marks it failed.
          if (!state || state.status === 'exited' || state.status === 'removing') return;
          if (state.status === 'running' && state.url) {
            url = state.url;
            break;
          }
          if (Date.now() - began > timeoutMs) throw new Error(`its sandbox did not run again within ${timeoutMs} ms (${state.status})`);
          await new Promise((done) => setTimeout(done, COMING_BACK_POLL_MS));
        }
        await waitAlive(url, Math.max(1000, timeoutMs - (Date.now() - began)), abort.signal);
        await this.locked(r.runtimeId, async () => {
          if (!stillOurs()) return;
          const ready = this.store.update(r.runtimeId, { podStatus: 'ready', directUrl: url, lastActivityAt: Date.now() });
          this.log.event('ready', ready, 'back after a restart', { ms: Date.now() - began, restartCount: deaths });
          this.schedule();
        });
      })()
        .catch(async (e) => {
          if (abort.signal.aborted || this.closed) return;
          // The backend went away meanwhile: the reconciliation when it is back takes this runtime up again.
          if (isBackendDown(e)) return this.markDown(e);
          await this.locked(r.runtimeId, async () => {
            if (!stillOurs()) return;
            const why = `did not come back after a restart: ${(e as Error).message}`;
            const failed = this.store.update(r.runtimeId, { podStatus: 'failed', directUrl: null });
            this.log.event('failed', failed, why);
            this.schedule();
          });
        })
        .finally(() => {
          if (this.recovering.get(r.runtimeId) === abort) this.recovering.delete(r.runtimeId);
        }),
    );
  }

  // ---- the backend: reconciliation, and what is done while it does not answer

  /** Reconciles the store with the backend (runtimes being started or coming back are left alone), then follows every runtime coming back. */
  private async reconcileNow(): Promise<void> {
    this.reconciled = await reconcile(this.store, this.driver, this.serviceLabels, this.log, (id) => this.bringingUp.has(id) || this.recovering.has(id));
    for (const r of this.store.liveRuntimes()) {
      if (r.status === 'running' && !r.warm && r.sandboxId && isComingBack(r) && !this.recovering.has(r.runtimeId) && !this.bringingUp.has(r.runtimeId)) this.recover(r);
    }
  }

  /** The backend did not answer: operations that need it are refused at once until a ping answers; then the service reconciles. */
  private markDown(e: unknown): void {
    if (this.closed || this.backendDown) return;
    this.backendDown = (e as Error).message;
    this.log.logger.error({ err: this.backendDown }, 'the backend does not answer: starts, pauses, resumes and stops answer backend_unavailable until it does');
    this.backendProbe = setInterval(() => {
      if (this.probing || this.closed) return;
      this.probing = true;
      // Tracked: close() waits for a reconciliation under way before it closes the store.
      this.track(
        this.driver
          .ping()
          .then(async () => {
            if (this.closed) return;
            await this.reconcileNow();
            if (this.closed) return;
            clearInterval(this.backendProbe);
            this.backendProbe = undefined;
            this.backendDown = null;
            this.log.logger.info({ reconciled: this.reconciled }, 'the backend answers again: reconciled');
            this.refill.fill();
            this.schedule();
          })
          .catch((err) => {
            if (!isBackendDown(err)) this.log.logger.error({ err: (err as Error).message }, 'the reconciliation after the backend came back failed; it is tried again');
          })
          .finally(() => (this.probing = false)),
      );
    }, BACKEND_PROBE_MS);
    this.backendProbe.unref();
  }

  private probing = false;

  /** Throws backend_unavailable at once while the backend is down. */
  private assertBackend(consequence: string): void {
    if (this.backendDown) throw new LifecycleError('backend_unavailable', `the backend does not answer (${this.backendDown}); ${consequence}`);
  }

  /** A driver call's failure as a LifecycleError; one that found the backend down marks it so. */
  private driverFailed(e: unknown): LifecycleError {
    if (isBackendDown(e)) this.markDown(e);
    return toLifecycleError(e);
  }

  // ---- helpers

  /** The driver's nudges for a sandbox's readiness, when it has them (alive.ts). */
  private readinessOf(sandboxId: string): Readiness | undefined {
    const driver = this.driver;
    return driver.readiness ? (nudge, signal) => driver.readiness!(sandboxId, nudge, signal) : undefined;
  }

  private liveOf(sessionId: string): StoredRuntime | undefined {
    return this.store.liveRuntimes().find((r) => r.sessionId === sessionId && !r.warm);
  }

  private mustGet(runtimeId: string, warmToo = false): StoredRuntime {
    const r = this.store.get(runtimeId);
    if (!r || (r.warm && !warmToo)) throw new LifecycleError('not_found', `no runtime ${runtimeId}`);
    return r;
  }

  /** Seconds until the soonest runtime is due to expire or be reaped (1 to 60). */
  private retryHint(live: StoredRuntime[]): number {
    let soonest = Infinity;
    for (const r of live) {
      soonest = Math.min(soonest, r.expiresAt);
      if (r.status === 'paused' && r.pausedAt !== null) soonest = Math.min(soonest, r.pausedAt + this.options.pausedTtl * 1000);
    }
    return Number.isFinite(soonest) ? Math.min(60, Math.max(1, Math.ceil((soonest - Date.now()) / 1000))) : 60;
  }

  /** Runs `fn` after every earlier operation on the same runtime has settled. */
  private locked<T>(runtimeId: string, fn: () => Promise<T>): Promise<T> {
    const before = this.locks.get(runtimeId) ?? Promise.resolve();
    const run = before.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.locks.set(runtimeId, tail);
    void tail.then(() => {
      if (this.locks.get(runtimeId) === tail) this.locks.delete(runtimeId);
    });
    return run;
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.inFlight.add(promise);
    const done = () => this.inFlight.delete(promise);
    promise.then(done, done);
    return promise;
  }
}

function isBackendDown(e: unknown): boolean {
  return (e instanceof DriverError || e instanceof LifecycleError) && e.code === 'backend_unavailable';
}

function toLifecycleError(e: unknown, message?: string): LifecycleError {
  if (e instanceof LifecycleError) return e;
  if (e instanceof DriverError) {
    if (e.code === 'image_not_found') return new LifecycleError('image_not_found', e.message, 'image');
    if (e.code === 'backend_unavailable') return new LifecycleError('backend_unavailable', e.message);
    if (e.code === 'bad_runtime_class') return new LifecycleError('bad_request', e.message, 'runtime_class');
    // The base image cannot take runtime-client (--inject image): the caller's image, not a fault of the service.
    if (e.code === 'image_not_injectable') return new LifecycleError('bad_request', e.message, 'image');
  }
  return new LifecycleError('internal', message ?? (e as Error).message);
}
