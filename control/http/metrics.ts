// The service's Prometheus metrics (GET /metrics, text format 0.0.4): runtimes by status (read
// from the lifecycle at scrape time), /start latency as a histogram, runtimes reaped, and the
// proxy's requests and bytes. Plain counters in memory: they start at 0 with the process, which
// Prometheus' rate() expects.
import type { Lifecycle } from '../lifecycle/api.js';

/** Upper bounds of the /start latency buckets, in seconds. */
export const START_BUCKETS_SECONDS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

export class Metrics {
  /** /start calls that answered 200, by bucket (the last one is +Inf). */
  private readonly startBuckets = new Array<number>(START_BUCKETS_SECONDS.length + 1).fill(0);
  private startSumSeconds = 0;
  private startCount = 0;
  private startFailures = 0;
  /** Proxied requests by status class (2xx...5xx), and WebSocket upgrades. */
  private readonly proxyRequests = new Map<string, number>();
  /** Body bytes through the proxy: to the runtimes (`in`) and back (`out`). */
  proxyBytesIn = 0;
  proxyBytesOut = 0;

  constructor(
    private readonly lifecycle: Lifecycle,
    /** Runtimes the reaper stopped or paused (TTL, idle, paused TTL), when the lifecycle counts them. */
    private readonly reaped: () => number | undefined = () => undefined,
  ) {}

  observeStart(durationMs: number, ok: boolean): void {
    if (!ok) {
      this.startFailures++;
      return;
    }
    const seconds = durationMs / 1000;
    let i = START_BUCKETS_SECONDS.findIndex((bound) => seconds <= bound);
    if (i === -1) i = START_BUCKETS_SECONDS.length;
    this.startBuckets[i]++;
    this.startSumSeconds += seconds;
    this.startCount++;
  }

  /** One proxied request answered with `status` (or `ws` for an upgrade). */
  countProxy(kind: string): void {
    this.proxyRequests.set(kind, (this.proxyRequests.get(kind) ?? 0) + 1);
  }

  /** The exposition text. */
  render(): string {
    const lines: string[] = [];
    const metric = (name: string, type: string, help: string, samples: Array<[labels: string, value: number]>) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
    };
    const counts = { running: 0, paused: 0, stopped: 0 };
    for (const record of this.lifecycle.list()) counts[record.status]++;
    metric('runtime_api_runtimes', 'gauge', 'Runtimes the service knows, by status.', Object.entries(counts).map(([status, n]) => [`{status="${status}"}`, n]));

    let cumulative = 0;
    const buckets: Array<[string, number]> = START_BUCKETS_SECONDS.map((bound, i) => {
      cumulative += this.startBuckets[i];
      return [`{le="${bound}"}`, cumulative];
    });
    buckets.push(['{le="+Inf"}', this.startCount]);
    lines.push('# HELP runtime_api_start_seconds Time from a /start request to its answer (the runtime ready), for starts that succeeded.', '# TYPE runtime_api_start_seconds histogram');
    for (const [labels, value] of buckets) lines.push(`runtime_api_start_seconds_bucket${labels} ${value}`);
    lines.push(`runtime_api_start_seconds_sum ${this.startSumSeconds}`, `runtime_api_start_seconds_count ${this.startCount}`);
    metric('runtime_api_start_failures_total', 'counter', '/start requests that failed (any error).', [['', this.startFailures]]);

    const reaped = this.reaped();
    if (reaped !== undefined) metric('runtime_api_reaped_total', 'counter', 'Runtimes the reaper paused or stopped (idle, TTL, paused TTL).', [['', reaped]]);

    const kinds = [...this.proxyRequests.entries()].sort(([a], [b]) => a.localeCompare(b));
    metric('runtime_api_proxy_requests_total', 'counter', 'Requests through /r/{runtime_id}, by answer status class (ws: WebSocket upgrades).', kinds.map(([kind, n]) => [`{code="${kind}"}`, n]));
    metric('runtime_api_proxy_bytes_total', 'counter', 'Body bytes through /r/{runtime_id}: in = to the runtimes, out = back to the clients.', [
      ['{direction="in"}', this.proxyBytesIn],
      ['{direction="out"}', this.proxyBytesOut],
    ]);
    return lines.join('\n') + '\n';
  }
}
