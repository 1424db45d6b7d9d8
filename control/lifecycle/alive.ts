// Waiting for a new runtime's server: GET <url>/alive answers 200 once its default shell is ready.

/**
 * Polls `<url>/alive` until it answers 200 (resolves) or `timeoutMs` passes (rejects with a
 * sentence saying what was last seen). Polls every 10 ms for the first 3 s (a start's latency is
 * what it waits for: a probe costs well under a millisecond), then every 100 ms.
 */
export async function waitAlive(url: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  inFlight++;
  try {
    return await poll(url, timeoutMs, signal);
  } finally {
    inFlight--;
  }
}

/**
 * Starts waiting at once. Their probes are spaced by how many there are (10 ms for up to four,
 * then 10 ms more per four): 50 starts probing every 10 ms made 5,000 connections a second, and
 * the service's CPU went to them instead of to the sandboxes starting.
 */
let inFlight = 0;

async function poll(url: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  const began = Date.now();
  for (;;) {
    signal?.throwIfAborted();
    const probeMs = Math.max(1, Math.min(2000, deadline - Date.now()));
    const abort = new AbortController();
    // A plain timer as well as the signal: a probe must end even if a connection the engine's
    // port proxy accepted never answers and the abort is not honoured.
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        abort.abort(new Error('probe timed out'));
        reject(new Error(`no answer within ${probeMs} ms`));
      }, probeMs);
    });
    late.catch(() => {});
    try {
      const probe = (async () => {
        const res = await fetch(`${url}/alive`, { signal: AbortSignal.any([abort.signal, ...(signal ? [signal] : [])]) });
        await res.arrayBuffer().catch(() => undefined);
        return res.status;
      })();
      probe.catch(() => {});
      const status = await Promise.race([probe, late]);
      if (status === 200) return;
      last = `HTTP ${status}`;
    } catch (e) {
      signal?.throwIfAborted();
      last = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
    } finally {
      clearTimeout(timer);
    }
    const pause = Date.now() - began < 3000 ? 10 * Math.max(1, Math.ceil(inFlight / 4)) : 100;
    if (Date.now() + pause > deadline) throw new Error(`its server did not answer /alive within ${timeoutMs} ms (last: ${last})`);
    await new Promise((r) => setTimeout(r, pause));
  }
}
