// The lifecycle core's rules, each with short clocks, over real runtime-client processes
// (process-driver.ts): start and its single flight, limits, capacity, TTL and renew, idle, the
// paused TTL, a sandbox killed behind the service's back, the warm pool, reconciliation at open,
// and the log lines. The durability loop (SIGKILL at random points) is lifecycle-durability.test.ts.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LABELS } from '../../control/driver.js';
import { LifecycleError } from '../../control/lifecycle/api.js';
import type { RuntimeLifecycle } from '../../control/lifecycle/lifecycle.js';
import { aliveStatus, LifecycleFixture, run, until } from './lifecycle-fixture.js';

let fixture: LifecycleFixture;
afterEach(async () => {
  await fixture?.cleanUp();
});
function fresh(): LifecycleFixture {
  fixture = new LifecycleFixture();
  return fixture;
}

async function rejection(p: Promise<unknown>): Promise<LifecycleError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof LifecycleError) return e;
    throw e;
  }
  throw new Error('it did not fail');
}

describe('start', () => {
  it('makes a ready runtime with a fresh 32-byte key, its server answering; a second start of the session returns it', async () => {
    const { lifecycle, driver, stateDir } = await fresh().open();
    const r = await lifecycle.start({ image: 'process', sessionId: 's1' });
    expect(r).toMatchObject({ sessionId: 's1', status: 'running', podStatus: 'ready', image: 'process', cpus: 1, memoryMb: 1024, restartCount: 0 });
    expect(r.runtimeId).toMatch(/^rt-[0-9a-f]{24}$/);
    expect(r.apiKey).toMatch(/^[0-9a-f]{64}$/);
    expect(await aliveStatus(r.directUrl!)).toBe(200);
    expect(await run(r.directUrl!, r.apiKey, 'echo hi')).toBe('hi');
    // The key is the one the server requires.
    const wrong = await fetch(`${r.directUrl}/execute_action`, { method: 'POST', headers: { 'x-session-api-key': 'x'.repeat(64), 'content-type': 'application/json' }, body: '{}' });
    expect(wrong.status).toBe(401);
    const again = await lifecycle.start({ image: 'process', sessionId: 's1' });
    expect(again.runtimeId).toBe(r.runtimeId);
    const other = await lifecycle.start({ image: 'process', sessionId: 's2' });
    expect(other.apiKey).not.toBe(r.apiKey);
    expect(await driver.list(lifecycle.serviceLabels)).toHaveLength(2);
    expect(lifecycle.counts()).toEqual({ running: 2, paused: 0 });
    // The state file holds the keys: 0600 in a 0700 dir.
    expect(statSync(stateDir).mode & 0o777).toBe(0o700);
    expect(statSync(join(stateDir, 'state.db')).mode & 0o777).toBe(0o600);
  });

  it('applies the request environment to the shells', async () => {
    const { lifecycle } = await fresh().open();
    const r = await lifecycle.start({ image: 'process', sessionId: 's1', env: { GREETING: 'hello there' } });
    expect(await run(r.directUrl!, r.apiKey, 'echo "$GREETING"')).toBe('hello there');
  });

  it('20 concurrent starts of one session make one runtime', async () => {
    const { lifecycle, driver } = await fresh().open();
    const all = await Promise.all(Array.from({ length: 20 }, () => lifecycle.start({ image: 'process', sessionId: 'same' })));
    expect(new Set(all.map((r) => r.runtimeId)).size).toBe(1);
    expect(await driver.list(lifecycle.serviceLabels)).toHaveLength(1);
    expect(lifecycle.list()).toHaveLength(1);
  });

  it('a paused runtime is resumed by a start of its session', async () => {
    const { lifecycle, driver } = await fresh().open();
    const r = await lifecycle.start({ image: 'process', sessionId: 's1' });
    await lifecycle.pause(r.runtimeId);
    expect((await driver.inspect(r.sandboxId!))!.status).toBe('paused');
    const again = await lifecycle.start({ image: 'process', sessionId: 's1' });
    expect(again).toMatchObject({ runtimeId: r.runtimeId, status: 'running' });
    expect((await driver.inspect(r.sandboxId!))!.status).toBe('running');
    expect(await aliveStatus(r.directUrl!)).toBe(200);
  });

  it('limits out of bounds are bad_request naming the request field, and nothing is made', async () => {
    const { lifecycle, driver } = await fresh().open({ maxCpus: 2, maxMemoryMb: 2048, maxTtl: 100 });
    const cases: [Record<string, unknown>, string][] = [
      [{ cpus: 3 }, 'cpus'],
      [{ cpus: -1 }, 'cpus'],
      [{ memoryMb: 4096 }, 'memory_mb'],
      [{ memoryMb: 1.5 }, 'memory_mb'],
      [{ resourceFactor: 4 }, 'resource_factor'],
      [{ resourceFactor: 0 }, 'resource_factor'],
      [{ ttlSeconds: 101 }, 'ttl_seconds'],
      [{ ttlSeconds: 0 }, 'ttl_seconds'],
      [{ idleTimeoutSeconds: -5 }, 'idle_timeout_seconds'],
      [{ idleTimeoutSeconds: 2.5 }, 'idle_timeout_seconds'],
    ];
    for (const [extra, field] of cases) {
      const e = await rejection(lifecycle.start({ image: 'process', sessionId: 'x', ...extra }));
      expect({ code: e.code, field: e.field }, JSON.stringify(extra)).toEqual({ code: 'bad_request', field });
      expect(e.message).toContain(field);
    }
    expect(await driver.list({})).toHaveLength(0);
    expect(lifecycle.list()).toHaveLength(0);
    // Within bounds: resource_factor scales the base, explicit values win.
    const r = await lifecycle.start({ image: 'process', sessionId: 'ok', resourceFactor: 2, cpus: 0.5 });
    expect(r).toMatchObject({ cpus: 0.5, memoryMb: 2048 });
  });

  it('an image the backend lacks is image_not_found, and leaves neither a sandbox nor a record', async () => {
    const { lifecycle, driver } = await fresh().open();
    const e = await rejection(lifecycle.start({ image: 'no-such-image', sessionId: 's1' }));
    expect(e.code).toBe('image_not_found');
    expect(await driver.list({})).toHaveLength(0);
    expect(lifecycle.list()).toHaveLength(0);
    expect(lifecycle.bySession('s1')).toBeUndefined();
  });

  it('a server that never answers /alive: the start fails, its sandbox removed, its record stopped with the reason', async () => {
    const { lifecycle, driver } = await fresh().open({}, 'a', { aliveTimeoutMs: 500 });
    // The driver stops this image's server (SIGSTOP) as soon as it listens: a hung sandbox.
    const e = await rejection(lifecycle.start({ image: 'stalls', sessionId: 's1' }));
    expect(e.message).toMatch(/did not answer \/alive within 500 ms/);
    expect(e.code).toBe('internal');
    expect(await driver.list({})).toHaveLength(0);
    const r = lifecycle.bySession('s1')!;
    expect(r).toMatchObject({ status: 'stopped', podStatus: 'failed' });
    expect((r as { stopReason?: string }).stopReason).toMatch(/^start failed: /);
    expect(driver.livePids().size).toBe(0);
  });
});

describe('capacity', () => {
  it('past --max-runtimes: too_many_runtimes with a retry hint, and nothing is made', async () => {
    const { lifecycle, driver } = await fresh().open({ maxRuntimes: 2 });
    const a = await lifecycle.start({ image: 'process', sessionId: 'a' });
    await lifecycle.start({ image: 'process', sessionId: 'b' });
    await lifecycle.pause(a.runtimeId); // paused ones count
    const e = await rejection(lifecycle.start({ image: 'process', sessionId: 'c' }));
    expect(e.code).toBe('too_many_runtimes');
    expect(e.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(await driver.list({})).toHaveLength(2);
    expect(lifecycle.bySession('c')).toBeUndefined();
    // Concurrent starts of different sessions do not slip past the limit either.
    await lifecycle.stop(a.runtimeId);
    const results = await Promise.allSettled(['d', 'e', 'f', 'g'].map((s) => lifecycle.start({ image: 'process', sessionId: s })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(await driver.list({})).toHaveLength(2);
    expect(driver.livePids().size).toBe(2);
  });
});

describe('clocks', () => {
  it('at expires_at the runtime is stopped and its sandbox removed', async () => {
    const { lifecycle, driver } = await fresh().open();
    const r = await lifecycle.start({ image: 'process', sessionId: 's1', ttlSeconds: 1 });
    expect(r.expiresAt - r.createdAt).toBe(1000);
    await until(() => lifecycle.get(r.runtimeId)!.status === 'stopped', 3000, 'expired');
    expect(Date.now()).toBeGreaterThanOrEqual(r.expiresAt);
    expect(lifecycle.get(r.runtimeId)).toMatchObject({ stopReason: 'expired', podStatus: 'not found' });
    await until(async () => (await driver.list({})).length === 0, 3000, 'sandbox removed');
    expect(driver.livePids().size).toBe(0);
  });

  it('renew postpones the expiry', async () => {
    const { lifecycle } = await fresh().open();
    const r = await lifecycle.start({ image: 'process', sessionId: 's1', ttlSeconds: 1 });
    const renewed = lifecycle.renew(r.runtimeId, 3);
    expect(renewed.expiresAt).toBeGreaterThanOrEqual(Date.now() + 2900);
    await new Promise((res) => setTimeout(res, 1500));
    expect(lifecycle.get(r.runtimeId)!.status).toBe('running');
    await until(() => lifecycle.get(r.runtimeId)!.status === 'stopped', 3000, 'expired at the new time');
    expect(Date.now()).toBeGreaterThanOrEqual(renewed.expiresAt);
    expect(() => lifecycle.renew(r.runtimeId, 10)).toThrow(/stopped/);
    expect(() => lifecycle.renew('rt-000000000000000000000000', 10)).toThrow(/no runtime/);
  });

  it('idle for idle_timeout_seconds pauses (the server stops answering); activity postpones it', async () => {
    const opened = await fresh().open();
    const { lifecycle, driver } = opened;
    const idle = await lifecycle.start({ image: 'process', sessionId: 'idle', idleTimeoutSeconds: 1 });
    const busy = await lifecycle.start({ image: 'process', sessionId: 'busy', idleTimeoutSeconds: 1 });
    const touching = setInterval(() => lifecycle.touch(busy.runtimeId), 200);
    try {
      await until(() => lifecycle.get(idle.runtimeId)!.status === 'paused', 3000, 'paused');
      expect((await driver.inspect(idle.sandboxId!))!.status).toBe('paused');
      expect(await aliveStatus(idle.directUrl!, 300)).toBe(0);
      await new Promise((res) => setTimeout(res, 1000));
      expect(lifecycle.get(busy.runtimeId)!.status).toBe('running');
    } finally {
      clearInterval(touching);
    }
    const resumed = await lifecycle.resume(idle.runtimeId);
    expect(resumed.status).toBe('running');
    expect(await aliveStatus(idle.directUrl!)).toBe(200);
    // The idle clock starts again at the resume.
    await until(() => lifecycle.get(idle.runtimeId)!.status === 'paused', 3000, 'paused again');
    expect(opened.lines.some((l) => l.event === 'paused' && l.runtimeId === idle.runtimeId && String(l.reason).startsWith('idle'))).toBe(true);
  });

  it('paused longer than --paused-ttl: stopped and removed', async () => {
    const { lifecycle, driver } = await fresh().open({ pausedTtl: 1 });
    const r = await lifecycle.start({ image: 'process', sessionId: 's1' });
    await lifecycle.pause(r.runtimeId);
    await until(() => lifecycle.get(r.runtimeId)!.status === 'stopped', 3000, 'stopped');
    expect(lifecycle.get(r.runtimeId)!.stopReason).toMatch(/paused longer than --paused-ttl/);
    await until(async () => (await driver.list({})).length === 0, 3000, 'removed');
    expect(driver.livePids().size).toBe(0);
  });

  it('a restart keeps every clock at its stored time', async () => {
    const f = fresh();
    const first = await f.open();
    const r = await first.lifecycle.start({ image: 'process', sessionId: 's1', ttlSeconds: 2 });
    await new Promise((res) => setTimeout(res, 50));
    first.lifecycle.touch(r.runtimeId);
    const { lastActivityAt } = first.lifecycle.get(r.runtimeId)!;
    expect(lastActivityAt).toBeGreaterThan(r.lastActivityAt);
    await first.lifecycle.close();
    const second = await f.open();
    expect(second.lifecycle.get(r.runtimeId)).toMatchObject({ status: 'running', podStatus: 'ready', expiresAt: r.expiresAt, lastActivityAt, apiKey: r.apiKey });
    await until(() => second.lifecycle.get(r.runtimeId)!.status === 'stopped', 4000, 'expired after the restart');
    expect(Date.now()).toBeGreaterThanOrEqual(r.expiresAt);
    expect(Date.now()).toBeLessThan(r.expiresAt + 1000);
  });
});

describe('the driver events', () => {
  it('a sandbox killed behind the service is failed, with restart_count and the reason', async () => {
    const opened = await fresh().open();
    const { lifecycle, driver } = opened;
    const r = await lifecycle.start({ image: 'process', sessionId: 's1' });
    driver.killBehindTheBack(r.sandboxId!, 'SIGKILL');
    await until(() => lifecycle.get(r.runtimeId)!.podStatus === 'failed', 3000, 'failed');
    expect(lifecycle.get(r.runtimeId)).toMatchObject({ status: 'running', restartCount: 1, restartReasons: ['exited with status 137'] });
    expect(opened.lines.some((l) => l.event === 'failed' && l.reason === 'exited with status 137')).toBe(true);
    // The session's next start replaces it.
    const next = await lifecycle.start({ image: 'process', sessionId: 's1' });
    expect(next.runtimeId).not.toBe(r.runtimeId);
    expect(lifecycle.get(r.runtimeId)!.status).toBe('stopped');
    expect(await driver.list({})).toHaveLength(1);
  });

  it('a paused runtime whose sandbox died is replaced by the next start, not resumed', async () => {
    const { lifecycle, driver } = await fresh().open();
    const r = await lifecycle.start({ image: 'process', sessionId: 's1' });
    await lifecycle.pause(r.runtimeId);
    driver.killBehindTheBack(r.sandboxId!, 'SIGKILL');
    await until(() => lifecycle.get(r.runtimeId)!.podStatus === 'failed', 3000, 'failed');
    const next = await lifecycle.start({ image: 'process', sessionId: 's1' });
    expect(next).toMatchObject({ status: 'running', podStatus: 'ready' });
    expect(next.runtimeId).not.toBe(r.runtimeId);
    expect(lifecycle.get(r.runtimeId)!.stopReason).toMatch(/^replaced by a new start: its sandbox had failed \(exited with status 137\)/);
  });

  it('our own stop is not reported as a failure', async () => {
    const { lifecycle } = await fresh().open();
    const r = await lifecycle.start({ image: 'process', sessionId: 's1' });
    await lifecycle.stop(r.runtimeId);
    await new Promise((res) => setTimeout(res, 300));
    expect(lifecycle.get(r.runtimeId)).toMatchObject({ status: 'stopped', restartCount: 0 });
    expect(await lifecycle.stop(r.runtimeId)).toMatchObject({ status: 'stopped' });
  });
});

describe('the warm pool', () => {
  it('hands out each warm sandbox once, with its own key, and refills behind it', async () => {
    const { lifecycle, driver } = await fresh().open({ warm: { process: 2 } });
    const warmCount = async () => (await driver.list({ ...lifecycle.serviceLabels, [LABELS.warm]: 'true' })).filter((s) => s.status === 'running').length;
    await until(async () => (await warmCount()) === 2 && lifecycle.list().length === 0, 10_000, 'two warm');
    const warmIds = new Set((await driver.list(lifecycle.serviceLabels)).map((s) => s.id));
    expect(lifecycle.counts()).toEqual({ running: 0, paused: 0 });
    const keys = new Set<string>();
    for (const session of ['w1', 'w2', 'w3', 'w4']) {
      await until(() => readyWarm(lifecycle) === 2, 10_000, 'refilled');
      const r = await lifecycle.start({ image: 'process', sessionId: session });
      expect(keys.has(r.apiKey)).toBe(false);
      keys.add(r.apiKey);
      expect(r).toMatchObject({ sessionId: session, podStatus: 'ready' });
      expect(await run(r.directUrl!, r.apiKey, 'echo warm')).toBe('warm');
    }
    // Each of the first two came from the pool as it was at open.
    const handed = lifecycle.list().map((r) => r.sandboxId);
    expect(handed.filter((id) => warmIds.has(id!))).toHaveLength(2);
    await until(() => readyWarm(lifecycle) === 2, 10_000, 'refilled at the end');
    expect(await driver.list(lifecycle.serviceLabels)).toHaveLength(6);
    // A start with an environment and a working dir is served from the pool too: both reach the shells.
    const pooled = new Set((await driver.list({ ...lifecycle.serviceLabels, [LABELS.warm]: 'true' })).map((s) => s.id));
    const dir = mkdtempSync(join(tmpdir(), 'rc-warm-dir-'));
    try {
      const withEnv = await lifecycle.start({ image: 'process', sessionId: 'env', env: { FOO: 'bar baz' }, workingDir: dir });
      expect(pooled.has(withEnv.sandboxId!)).toBe(true);
      expect(await run(withEnv.directUrl!, withEnv.apiKey, 'echo "$FOO"; pwd')).toBe(`bar baz\n${dir}`);
      // An environment name /configure does not take goes cold, where it is set as given.
      const cold = await lifecycle.start({ image: 'process', sessionId: 'odd-env', env: { 'odd.name': 'x' } });
      expect(warmIds.has(cold.sandboxId!) || pooled.has(cold.sandboxId!)).toBe(false);
      expect(await run(cold.directUrl!, cold.apiKey, 'env | grep -c "^odd.name=x$"')).toBe('1');
      await until(() => readyWarm(lifecycle) === 2, 10_000, 'refilled after the environment');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a warm sandbox's start key is never handed out, and one that cannot be configured goes and the start is served cold", async () => {
    const { lifecycle, driver } = await fresh().open({ warm: { process: 1 } });
    await until(() => readyWarm(lifecycle) === 1, 10_000, 'one warm');
    const [warm] = await driver.list({ ...lifecycle.serviceLabels, [LABELS.warm]: 'true' });
    // Its server waits unconfigured: the runtime API's key is not its start key, so the session's key works and nothing else does.
    const r = await lifecycle.start({ image: 'process', sessionId: 'k1' });
    expect(r.sandboxId).toBe(warm.id);
    const again = await fetch(`${r.directUrl}/configure`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-session-api-key': r.apiKey }, body: JSON.stringify({ api_key: 'x'.repeat(32) }) });
    expect(again.status).toBe(409);
    expect(await run(r.directUrl!, r.apiKey, 'echo ok')).toBe('ok');
    // A working dir that does not exist: /configure refuses it, the sandbox is removed, the start is a cold one (which fails the same way, as any cold start would).
    await until(() => readyWarm(lifecycle) === 1, 10_000, 'refilled');
    const [next] = await driver.list({ ...lifecycle.serviceLabels, [LABELS.warm]: 'true' }).then((l) => l.filter((s) => s.id !== warm.id && s.status === 'running'));
    await expect(lifecycle.start({ image: 'process', sessionId: 'k2', workingDir: '/nonexistent/rc-warm' })).rejects.toThrow();
    expect((await driver.list(lifecycle.serviceLabels)).some((s) => s.id === next.id)).toBe(false);
    expect(lifecycle.list().filter((x) => x.sessionId === 'k2' && x.status !== 'stopped')).toEqual([]);
  });

  it('warm sandboxes do not show as runtimes, and a dead one is replaced', async () => {
    const { lifecycle, driver } = await fresh().open({ warm: { process: 1 } });
    await until(() => readyWarm(lifecycle) === 1, 10_000, 'one warm');
    const [first] = await driver.list(lifecycle.serviceLabels);
    driver.killBehindTheBack(first.id);
    await until(async () => readyWarm(lifecycle) === 1 && !(await driver.list(lifecycle.serviceLabels)).some((s) => s.id === first.id), 10_000, 'replaced');
    expect(lifecycle.list()).toHaveLength(0);
  });
});

describe('reconciliation at open', () => {
  it('removes sandboxes with no record, stops records whose sandbox is gone, marks exited ones failed, keeps the rest', async () => {
    const f = fresh();
    const first = await f.open();
    const kept = await first.lifecycle.start({ image: 'process', sessionId: 'kept' });
    const paused = await first.lifecycle.start({ image: 'process', sessionId: 'paused' });
    const { pausedAt } = await first.lifecycle.pause(paused.runtimeId);
    const gone = await first.lifecycle.start({ image: 'process', sessionId: 'gone' });
    const died = await first.lifecycle.start({ image: 'process', sessionId: 'died' });
    await first.lifecycle.close();
    // While the service is away: a sandbox of its own with no record, one removed, one killed.
    const orphan = await first.driver.create({
      runtimeId: 'rt-ffffffffffffffffffffffff',
      sessionId: 'orphan',
      image: 'process',
      env: {},
      apiKey: 'k',
      cpus: 1,
      memoryMb: 512,
      pidsLimit: 100,
      labels: { ...first.lifecycle.serviceLabels, [LABELS.runtimeId]: 'rt-ffffffffffffffffffffffff' },
    });
    const stranger = await first.driver.create({ runtimeId: 'x', sessionId: 'x', image: 'process', env: {}, apiKey: 'k', cpus: 1, memoryMb: 512, pidsLimit: 100, labels: { [LABELS.managed]: 'someone-else' } });
    await first.driver.remove(gone.sandboxId!);
    first.driver.killBehindTheBack(died.sandboxId!, 'SIGKILL');
    await until(async () => (await first.driver.inspect(died.sandboxId!))?.exitCode !== undefined, 5000, 'died');

    const second = await f.open();
    const { lifecycle, driver } = second;
    expect(await driver.inspect(orphan.id)).toBeNull();
    expect((await driver.inspect(stranger.id))?.status).toBe('running'); // never one it did not make
    expect(lifecycle.get(kept.runtimeId)).toMatchObject({ status: 'running', podStatus: 'ready', expiresAt: kept.expiresAt });
    expect(lifecycle.get(paused.runtimeId)).toMatchObject({ status: 'paused', pausedAt });
    expect((await driver.inspect(paused.sandboxId!))?.status).toBe('paused');
    expect(lifecycle.get(gone.runtimeId)).toMatchObject({ status: 'stopped', podStatus: 'not found' });
    expect(lifecycle.get(died.runtimeId)).toMatchObject({ status: 'running', podStatus: 'failed', restartCount: 1, restartReasons: ['exited with status 137'] });
    expect(second.lifecycle.reconciled).toEqual({ removed: 1, stopped: 1, failed: 1, restarted: 0 });
    expect(await aliveStatus(kept.directUrl!)).toBe(200);
    await driver.remove(stranger.id);
  });
});

describe('the sweep', () => {
  it('removes, every sweepIntervalMs, a sandbox of the service that no live runtime claims, and nothing else', async () => {
    const opened = await fresh().open({}, 'a', { sweepIntervalMs: 300 });
    const { lifecycle, driver } = opened;
    const r = await lifecycle.start({ image: 'process', sessionId: 'claimed' });
    // What a create the engine finished after its service was killed looks like: labels, no live
    // record. (The sweep may take it while it is still being made: that create then fails.)
    const lateId = 'rt-eeeeeeeeeeeeeeeeeeeeeeee';
    await driver
      .create({ runtimeId: lateId, sessionId: 'late', image: 'process', env: {}, apiKey: 'k', cpus: 1, memoryMb: 512, pidsLimit: 100, labels: { ...lifecycle.serviceLabels, [LABELS.runtimeId]: lateId } })
      .catch(() => undefined);
    await until(() => opened.lines.some((l) => l.event === 'reaped' && l.runtimeId === lateId && /no live runtime claims it/.test(String(l.reason))), 3000, 'swept');
    expect(await driver.list({ [LABELS.runtimeId]: lateId })).toEqual([]);
    expect(driver.livePids().size).toBe(1);
    expect((await driver.inspect(r.sandboxId!))?.status).toBe('running');
    expect(lifecycle.get(r.runtimeId)!.status).toBe('running');
  });
});

describe('logs', () => {
  it('one line per lifecycle event with runtime id, session and reason; keys never appear', async () => {
    const opened = await fresh().open();
    const { lifecycle } = opened;
    const r = await lifecycle.start({ image: 'process', sessionId: 'logged', ttlSeconds: 1 });
    await lifecycle.pause(r.runtimeId, 'because');
    await lifecycle.resume(r.runtimeId);
    lifecycle.renew(r.runtimeId, 1);
    // The stopped line comes once the sandbox is removed.
    await until(() => opened.lines.some((l) => l.event === 'stopped'), 5000, 'expired and removed');
    const lines = opened.lines;
    const events = lines.filter((l) => l.runtimeId === r.runtimeId).map((l) => l.event);
    expect(events).toEqual(['started', 'ready', 'paused', 'resumed', 'renewed', 'expired', 'stopped']);
    expect(lines.find((l) => l.event === 'paused')).toMatchObject({ session: 'logged', reason: 'because' });
    expect(lines.find((l) => l.event === 'stopped')).toMatchObject({ reason: 'expired' });
    expect(opened.text()).not.toContain(r.apiKey);
  });
});

function readyWarm(lifecycle: RuntimeLifecycle): number {
  return lifecycle.warmPool().process?.ready ?? 0;
}
