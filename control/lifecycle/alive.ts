// Waiting for a new runtime's server: GET <url>/alive answers 200 once its default shell is ready.

/**
 * Polls `<url>/alive` until it answers 200 (resolves) or `timeoutMs` passes (rejects with a
 * sentence saying what was last seen). Polls every 10 ms for the first 3 s (a start's latency is
 * what it waits for: a probe costs well under a millisecond), then every 100 ms.
 */
export async function waitAlive(url: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  const began = Date.now();
  for (;;) {
    signal?.throwIfAborted();
    try {
      const res = await fetch(`${url}/alive`, { signal: AbortSignal.any([AbortSignal.timeout(Math.max(1, Math.min(2000, deadline - Date.now()))), ...(signal ? [signal] : [])]) });
      await res.arrayBuffer().catch(() => undefined);
      if (res.status === 200) return;
      last = `HTTP ${res.status}`;
    } catch (e) {
      signal?.throwIfAborted();
      last = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
    }
    const pause = Date.now() - began < 3000 ? 10 : 100;
    if (Date.now() + pause > deadline) throw new Error(`its server did not answer /alive within ${timeoutMs} ms (last: ${last})`);
    await new Promise((r) => setTimeout(r, pause));
  }
}
