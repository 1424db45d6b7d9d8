// The reaper's work for /metrics, counted from the lifecycle's event lines (lifecycle/events.ts):
// `expired` (TTL), `reaped` (paused longer than --paused-ttl) and `paused` for an idle reason.
// The Lifecycle interface has no counter of its own; this reads what it already logs. The lines
// reach it whatever --log-level says: lifecycleLogger() writes info and above to the counter, and
// to the output only at the level asked for.
import pino from 'pino';

export class ReapedCounter {
  total = 0;

  /** A pino destination: one JSON line per call. */
  write(line: string): void {
    if (line.includes('"event":"expired"') || line.includes('"event":"reaped"') || (line.includes('"event":"paused"') && line.includes('"reason":"idle'))) this.total++;
  }
}

/** The lifecycle's logger: its lines at `level` and above to `out`, and every info line to `counter`. */
export function lifecycleLogger(level: string, counter: ReapedCounter, options: pino.LoggerOptions = {}, out: pino.DestinationStream = pino.destination(1)): pino.Logger {
  const streams: pino.StreamEntry[] = [{ level: 'info', stream: counter }];
  if (level !== 'silent') streams.push({ level: level as pino.Level, stream: out });
  const lowest = level === 'silent' || pino.levels.values[level] > pino.levels.values.info ? 'info' : level;
  return pino({ ...options, level: lowest }, pino.multistream(streams));
}
