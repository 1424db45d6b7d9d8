// Handing out a warm sandbox: its server was started with --await-config and waits, unconfigured,
// for one POST /configure (PROTOCOL.md) that gives it the session's key, environment, working dir
// and user. The start key never leaves the service; the new one is the session's.
import type { ConfigureRequest } from '@runtime-client/protocol';
import { withDeadline } from '../deadline.js';

/**
 * POSTs `body` to `<url>/configure` with the sandbox's start key; resolves once the server says
 * its default session is ready, rejects with a sentence (the server's error code and message, or
 * what went wrong on the way) otherwise. Ends within `timeoutMs` whatever the server does.
 */
export async function configure(url: string, startKey: string, body: ConfigureRequest, timeoutMs: number): Promise<void> {
  const abort = AbortSignal.timeout(timeoutMs);
  const call = (async () => {
    const res = await fetch(`${url}/configure`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-session-api-key': startKey },
      body: JSON.stringify(body),
      signal: abort,
    });
    const text = await res.text().catch(() => '');
    if (res.status === 200) return;
    let why = text.slice(0, 300);
    try {
      const error = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
      if (error?.code) why = `${error.code}: ${error.message ?? ''}`;
    } catch {
      // not JSON: the text as it came
    }
    throw new Error(`/configure answered ${res.status} (${why})`);
  })();
  try {
    // The plain timer a little after the signal's: the call ends even if the abort is not honoured.
    await withDeadline(call, timeoutMs + 100, () => new Error(`/configure gave no answer within ${timeoutMs} ms`));
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code;
    throw new Error(cause ? `/configure failed: ${cause}` : (e as Error).message);
  }
}
