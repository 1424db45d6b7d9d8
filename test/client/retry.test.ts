// Retries, backoff, ids and timeouts of RuntimeClient against a fixture server that fails on
// purpose (test/client/flaky-server.ts): real sockets, no mocks.
import { createServer } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RuntimeClient, RuntimeError, type RuntimeClientOptions } from '../../client/index.js';
import { backoffDelay, withRetries } from '../../client/retry.js';
import { actionWait } from '../../client/timeouts.js';
import { startFlakyServer, type FlakyServer } from './flaky-server.js';

const run = (command: string, extra: Record<string, unknown> = {}, timeout?: number) => ({
  action: 'run' as const,
  args: { command, ...extra },
  ...(timeout !== undefined ? { timeout } : {}),
});

async function rejection(promise: Promise<unknown>): Promise<RuntimeError> {
  const error = await promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RuntimeError);
  return error as RuntimeError;
}

describe('backoffDelay', () => {
  const policy = { retries: 5, backoffMs: 100, maxBackoffMs: 1000 };

  it('doubles from backoffMs, is capped at maxBackoffMs, and jitters down by at most half', () => {
    const lowest = [0, 1, 2, 3, 4, 5].map((n) => backoffDelay(n, { ...policy, random: () => 0 }));
    const highest = [0, 1, 2, 3, 4, 5].map((n) => backoffDelay(n, { ...policy, random: () => 0.999999 }));
    expect(lowest).toEqual([50, 100, 200, 400, 500, 500]);
    expect(highest.map(Math.round)).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it('never shrinks from one retry to the next below the cap, whatever the jitter', () => {
    for (let n = 0; 100 * 2 ** (n + 1) <= 1000; n++) {
      expect(backoffDelay(n + 1, { ...policy, random: () => 0 })).toBeGreaterThanOrEqual(backoffDelay(n, { ...policy, random: () => 0.999999 }));
    }
  });

  it('withRetries stops at once on a failure that is not transient', async () => {
    let calls = 0;
    const failure = new Error('permanent');
    await expect(
      withRetries(
        async () => {
          calls++;
          throw failure;
        },
        { retries: 5, backoffMs: 1, maxBackoffMs: 1 },
        { transient: () => false },
      ),
    ).rejects.toBe(failure);
    expect(calls).toBe(1);
  });
});

describe('actionWait: the client waits for the action, never a fixed cap', () => {
  const policy = { marginMs: 30_000, defaultActionTimeoutMs: 120_000 };

  it('is the action timeout plus the margin, however long', () => {
    expect(actionWait(run('make', {}, 3600), undefined, policy)).toEqual({ totalMs: 3_630_000, idle: false });
  });
  it('prefers an explicit timeoutMs', () => {
    expect(actionWait(run('make', {}, 3600), 5000, policy)).toEqual({ totalMs: 35_000, idle: false });
  });
  it('has no limit for a blocking or static run without a timeout', () => {
    expect(actionWait(run('make', { blocking: true }), undefined, policy).totalMs).toBeNull();
    expect(actionWait(run('make', { is_static: true }), undefined, policy).totalMs).toBeNull();
  });
  it('falls back to defaultActionTimeoutMs plus the margin, as an idle limit, otherwise', () => {
    expect(actionWait(run('make'), undefined, policy)).toEqual({ totalMs: 150_000, idle: true });
  });
});

describe('RuntimeClient against a failing fixture server', () => {
  let server: FlakyServer;
  const clients: RuntimeClient[] = [];
  const client = (o: Partial<RuntimeClientOptions> = {}) => {
    const c = new RuntimeClient({ url: server.url, apiKey: 'k', retries: 4, backoffMs: 20, maxBackoffMs: 1000, timeoutMarginMs: 200, ...o });
    clients.push(c);
    return c;
  };
  const executes = () => server.requests.filter((r) => r.path === '/execute_action');

  beforeEach(async () => {
    server = await startFlakyServer();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await server.close();
  });

  it('retries dropped connections with the same id it generated, and sends the key', async () => {
    server.script('/execute_action', ['drop', 'drop']);
    const observation = await client().execute(run('echo hi'));
    const seen = executes();
    expect(seen).toHaveLength(3);
    const id = seen[0]!.id!;
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(seen.map((r) => r.id)).toEqual([id, id, id]);
    expect(seen.every((r) => r.headers['x-session-api-key'] === 'k')).toBe(true);
    expect(seen[0]!.body).toEqual({ action: run('echo hi'), id });
    expect(observation.content).toBe(`ran ${id}\n`);
  });

  it('retries 503s with backoff that grows, keeping the id it was given', async () => {
    server.script('/execute_action', [{ status: 503 }, { status: 502 }, { status: 504 }]);
    await client({ backoffMs: 40 }).execute(run('echo hi'), { id: 'step-7' });
    const seen = executes();
    expect(seen.map((r) => r.id)).toEqual(['step-7', 'step-7', 'step-7', 'step-7']);
    const gaps = seen.slice(1).map((r, k) => r.at - seen[k]!.at);
    // Retry k waits between 40·2^k/2 and 40·2^k ms.
    gaps.forEach((gap, k) => expect(gap).toBeGreaterThanOrEqual(20 * 2 ** k - 2));
    expect(gaps[2]!).toBeGreaterThan(gaps[0]!);
  });

  it("runs out of retries on 503: 'unavailable' with the status, after retries + 1 attempts", async () => {
    server.always('/execute_action', { status: 503, body: { error: { code: 'unavailable', message: 'starting' } } });
    const error = await rejection(client({ retries: 3 }).execute(run('true')));
    expect(error.code).toBe('unavailable');
    expect(error.data).toMatchObject({ status: 503 });
    expect(executes()).toHaveLength(4);
  });

  it("runs out of retries on dropped connections: 'disconnected'", async () => {
    server.always('/execute_action', 'drop');
    const error = await rejection(client({ retries: 2 }).execute(run('true'), { id: 'a1' }));
    expect(error.code).toBe('disconnected');
    expect(executes().map((r) => r.id)).toEqual(['a1', 'a1', 'a1']);
  });

  it("reports a refused connection as 'unavailable' once retries are used up", async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const error = await rejection(client({ url: `http://127.0.0.1:${port}`, retries: 2 }).execute(run('true')));
    expect(error.code).toBe('unavailable');
    expect(error.data).toMatchObject({ code: 'ECONNREFUSED' });
  });

  it("does not retry 401: 'unauthorized'", async () => {
    server.always('/execute_action', { status: 401, body: { error: { code: 'unauthorized', message: 'missing or wrong X-Session-API-Key header' } } });
    const error = await rejection(client().execute(run('true')));
    expect(error.code).toBe('unauthorized');
    expect(executes()).toHaveLength(1);
  });

  it("does not retry 400: 'bad_action' with the server's message and body", async () => {
    const body = { error: { code: 'bad_request', message: 'action.args.command: Invalid input' } };
    server.always('/execute_action', { status: 400, body });
    const error = await rejection(client().execute(run('true')));
    expect(error.code).toBe('bad_action');
    expect(error.message).toContain('action.args.command: Invalid input');
    expect(error.data).toEqual(body);
    expect(executes()).toHaveLength(1);
  });

  it("does not retry a 500: 'unavailable'", async () => {
    server.always('/execute_action', { status: 500, body: { error: { code: 'internal', message: 'boom' } } });
    expect((await rejection(client().execute(run('true')))).code).toBe('unavailable');
    expect(executes()).toHaveLength(1);
  });

  it("a server that hangs: 'timeout' after the action's timeout plus the margin, not retried", async () => {
    server.always('/execute_action', 'hang');
    const started = performance.now();
    const error = await rejection(client({ timeoutMarginMs: 300 }).execute(run('sleep 100', {}, 1), { id: 'slow-1' }));
    const elapsed = performance.now() - started;
    expect(error.code).toBe('timeout');
    expect(error.data).toEqual({ timeoutMs: 1300, id: 'slow-1' });
    expect(error.message).toContain('same id');
    expect(elapsed).toBeGreaterThanOrEqual(1290);
    expect(elapsed).toBeLessThan(2500);
    expect(executes()).toHaveLength(1);
  });

  it('a hang with timeoutMs: that plus the margin', async () => {
    server.always('/execute_action', 'hang');
    const started = performance.now();
    expect((await rejection(client({ timeoutMarginMs: 100 }).execute(run('x', {}, 600), { timeoutMs: 200 }))).code).toBe('timeout');
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('a non-blocking action without a timeout waits defaultActionTimeoutMs plus the margin', async () => {
    server.always('/execute_action', 'hang');
    const started = performance.now();
    const error = await rejection(client({ timeoutMarginMs: 100, defaultActionTimeoutMs: 300 }).execute(run('x')));
    expect(error.code).toBe('timeout');
    expect(performance.now() - started).toBeGreaterThanOrEqual(390);
  });

  it("a blocking action without a timeout has no client timeout; close() ends the wait with 'unavailable'", async () => {
    server.always('/execute_action', 'hang');
    const c = client({ timeoutMarginMs: 50, defaultActionTimeoutMs: 50 });
    const pending = c.execute(run('make', { blocking: true }));
    let settled = false;
    pending.then(
      () => (settled = true),
      () => (settled = true),
    );
    await new Promise((r) => setTimeout(r, 500));
    expect(settled).toBe(false);
    await c.close();
    expect((await rejection(pending)).code).toBe('unavailable');
    expect((await rejection(c.execute(run('true')))).code).toBe('unavailable');
  });

  it("a 200 that is not an observation: 'unavailable'", async () => {
    server.always('/execute_action', { status: 200, body: { hello: 'proxy page' } });
    expect((await rejection(client().execute(run('true')))).code).toBe('unavailable');
  });

  it('alive() is one probe and never throws; waitUntilAlive() polls until 200', async () => {
    server.script('/alive', [{ status: 503, body: { status: 'not initialized' } }, 'drop', { status: 503 }]);
    const c = client();
    expect(await c.alive()).toBe(false);
    await c.waitUntilAlive({ timeoutMs: 5000, intervalMs: 20 });
    expect(server.requests.filter((r) => r.path === '/alive')).toHaveLength(4);
    expect(await c.alive()).toBe(true);
  });

  it("waitUntilAlive() gives up with 'not_ready' after timeoutMs", async () => {
    server.always('/alive', { status: 503, body: { status: 'not initialized' } });
    const started = performance.now();
    const error = await rejection(client().waitUntilAlive({ timeoutMs: 300, intervalMs: 20 }));
    expect(error.code).toBe('not_ready');
    expect(error.data).toMatchObject({ status: 503 });
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it("waitUntilAlive(): a probe cut short by the deadline keeps the server's last answer in the error", async () => {
    server.always('/alive', 'hang');
    server.script('/alive', [{ status: 503, body: { status: 'not initialized' } }]);
    const error = await rejection(client().waitUntilAlive({ timeoutMs: 300, intervalMs: 20 }));
    expect(error.code).toBe('not_ready');
    expect(error.data).toMatchObject({ status: 503 });
  });

  it('rejects invalid options with a TypeError naming the option', () => {
    expect(() => new RuntimeClient({ url: 'ftp://x' })).toThrow(new TypeError('options.url must be an http: or https: URL, got "ftp://x"'));
    expect(() => new RuntimeClient({ url: server.url, retries: 1.5 })).toThrow(new TypeError('options.retries must be a non-negative integer, got 1.5'));
    expect(() => new RuntimeClient({ url: server.url, backoffMs: -1 })).toThrow(new TypeError('options.backoffMs must be a non-negative number, got -1'));
  });
});
