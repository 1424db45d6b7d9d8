// Following the engine's event stream for the sandboxes carrying some labels. The stream is
// long-lived: when it drops (engine restart, socket reset) it is opened again with `since` set
// to the last event seen, so nothing that happened in between is missed, and nothing is told twice.
import type Docker from 'dockerode';
import type { DriverEvent } from '../driver.js';

const KINDS: readonly DriverEvent['kind'][] = ['start', 'die', 'oom', 'pause', 'unpause', 'destroy'];
/** Event attributes that are not labels. */
const NOT_LABELS = new Set(['image', 'name', 'exitCode', 'signal']);

export interface WatchOptions {
  /** First wait before opening a dropped stream again, doubled per failure up to maxRetryMs. Default 100 ms. */
  retryMs?: number;
  /** Default 5000 ms. */
  maxRetryMs?: number;
}

interface EngineEvent {
  Type?: string;
  Action?: string;
  status?: string;
  id?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  timeNano?: number;
}

/** Follows the events; returns the stop function (after it, no callback and no reconnect). */
export function watchEvents(docker: Docker, labels: Record<string, string>, onEvent: (event: DriverEvent) => void, options: WatchOptions = {}): () => void {
  const retryMs = options.retryMs ?? 100;
  const maxRetryMs = options.maxRetryMs ?? 5000;
  const filters = { type: ['container'], event: [...KINDS], label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) };
  const controller = new AbortController();
  // The engine's clock in ns: the watch's start, then the last event told (its `since` on reconnects).
  let sinceNano = BigInt(Date.now()) * 1_000_000n;
  let toldAtSince = new Set<string>();
  let wait = retryMs;
  let timer: NodeJS.Timeout | undefined;
  let stream: NodeJS.ReadableStream | undefined;

  const reconnect = () => {
    stream = undefined;
    if (controller.signal.aborted || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      open();
    }, wait);
    wait = Math.min(wait * 2, maxRetryMs);
  };

  const tell = (raw: string) => {
    let ev: EngineEvent;
    try {
      ev = JSON.parse(raw) as EngineEvent;
    } catch {
      return;
    }
    const kind = (ev.Action ?? ev.status) as DriverEvent['kind'];
    const id = ev.Actor?.ID ?? ev.id;
    if (ev.Type !== 'container' || !KINDS.includes(kind) || !id) return;
    const nano = BigInt(ev.timeNano ?? 0);
    const key = `${id} ${kind}`;
    // A replay after a reconnect starts at `since`, inclusive: skip what was told already.
    if (nano < sinceNano || (nano === sinceNano && toldAtSince.has(key))) return;
    if (nano > sinceNano) {
      sinceNano = nano;
      toldAtSince = new Set();
    }
    toldAtSince.add(key);
    const attributes = ev.Actor?.Attributes ?? {};
    const event: DriverEvent = { id, kind, labels: Object.fromEntries(Object.entries(attributes).filter(([k]) => !NOT_LABELS.has(k))) };
    if (kind === 'die' && attributes.exitCode !== undefined) event.exitCode = Number(attributes.exitCode);
    try {
      onEvent(event);
    } catch (e) {
      process.emitWarning(`a Docker driver watch callback threw on ${kind} of ${id}: ${(e as Error)?.stack ?? e}`);
    }
  };

  const open = () => {
    const since = `${sinceNano / 1_000_000_000n}.${String(sinceNano % 1_000_000_000n).padStart(9, '0')}`;
    docker.getEvents({ filters, since, abortSignal: controller.signal } as unknown as Docker.GetEventsOptions).then(
      (s) => {
        if (controller.signal.aborted) return (s as unknown as { destroy?: () => void }).destroy?.();
        stream = s;
        wait = retryMs;
        let buffered = '';
        s.on('data', (chunk: Buffer) => {
          if (controller.signal.aborted) return;
          buffered += chunk.toString('utf8');
          let nl: number;
          while ((nl = buffered.indexOf('\n')) >= 0) {
            const line = buffered.slice(0, nl).trim();
            buffered = buffered.slice(nl + 1);
            if (line) tell(line);
          }
        });
        let dropped = false;
        const drop = () => {
          if (dropped) return;
          dropped = true;
          reconnect();
        };
        s.on('end', drop);
        s.on('close', drop);
        s.on('error', drop);
      },
      () => reconnect(),
    );
  };

  open();
  return () => {
    if (controller.signal.aborted) return;
    controller.abort();
    clearTimeout(timer);
    timer = undefined;
    (stream as unknown as { destroy?: () => void } | undefined)?.destroy?.();
    stream = undefined;
  };
}
