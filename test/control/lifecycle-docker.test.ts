// The lifecycle core over the real Docker driver (control/docker/) and engine, on
// rc-test/bookworm:1 in mount mode: a cold start to ready, pause and resume as the engine's pause,
// TTL expiry removing the container, a container killed behind the service's back reported failed,
// the warm pool's hand-outs, reconciliation with containers removed or left while the service was
// away, and an image the engine lacks. Each test's containers carry its own service label and are
// removed by it.
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LABELS } from '../../control/driver.js';
import { LifecycleError } from '../../control/lifecycle/api.js';
import type { RuntimeLifecycle } from '../../control/lifecycle/lifecycle.js';
import { run, until } from './lifecycle-fixture.js';
import { dockerLifecycles } from './docker-lifecycles.js';

const { hasEngine, open, driver: dockerDriver } = dockerLifecycles('rc-lifecycle-docker');
const IMAGE = 'rc-test/bookworm:1';

const ours = async (lifecycle: RuntimeLifecycle) => dockerDriver().list(lifecycle.serviceLabels);
const docker = (...args: string[]) => execFileSync('docker', args, { encoding: 'utf8' }).trim();

describe.skipIf(!hasEngine)('the lifecycle on Docker', () => {
  it('a start makes a ready container with the limits and a fresh key; pause and resume are the engine’s; stop removes it', async () => {
    const { lifecycle, log, stateDir } = await open();
    const t = Date.now();
    const r = await lifecycle.start({ image: IMAGE, sessionId: 'd1', cpus: 0.5, memoryMb: 256, env: { GREETING: 'hi there' } });
    const ms = Date.now() - t;
    console.log(`docker cold start to ready: ${ms} ms`);
    expect(r).toMatchObject({ status: 'running', podStatus: 'ready', cpus: 0.5, memoryMb: 256 });
    expect(await run(r.directUrl!, r.apiKey, 'echo "$GREETING"')).toBe('hi there');
    const limits = JSON.parse(docker('inspect', '--format', '{{json .HostConfig}}', r.sandboxId!)) as { NanoCpus: number; Memory: number };
    expect(limits).toMatchObject({ NanoCpus: 0.5e9, Memory: 256 * 2 ** 20 });
    await lifecycle.pause(r.runtimeId);
    expect(docker('inspect', '--format', '{{.State.Status}}', r.sandboxId!)).toBe('paused');
    await lifecycle.resume(r.runtimeId);
    expect(await run(r.directUrl!, r.apiKey, 'echo back')).toBe('back');
    await lifecycle.stop(r.runtimeId);
    expect(await ours(lifecycle)).toHaveLength(0);
    expect(log.join('')).not.toContain(r.apiKey);
    // The state file holds the keys: 0600 in a 0700 dir.
    expect(statSync(stateDir).mode & 0o777).toBe(0o700);
    expect(statSync(join(stateDir, 'state.db')).mode & 0o777).toBe(0o600);
  });

  it('at expires_at the container is removed; idle pauses it', async () => {
    const { lifecycle } = await open();
    const expiring = await lifecycle.start({ image: IMAGE, sessionId: 'ttl', ttlSeconds: 2 });
    const idle = await lifecycle.start({ image: IMAGE, sessionId: 'idle', idleTimeoutSeconds: 1 });
    await until(() => lifecycle.get(idle.runtimeId)!.status === 'paused', 5000, 'idle paused');
    expect(docker('inspect', '--format', '{{.State.Status}}', idle.sandboxId!)).toBe('paused');
    await until(async () => !(await ours(lifecycle)).some((s) => s.id === expiring.sandboxId), 6000, 'expired container removed');
    expect(lifecycle.get(expiring.runtimeId)).toMatchObject({ status: 'stopped', stopReason: 'expired' });
  });

  it('a container killed behind the service is failed with restart_count and the reason', async () => {
    const { lifecycle } = await open();
    const r = await lifecycle.start({ image: IMAGE, sessionId: 'killed' });
    docker('kill', r.sandboxId!);
    await until(() => lifecycle.get(r.runtimeId)!.podStatus === 'failed', 10_000, 'failed');
    expect(lifecycle.get(r.runtimeId)).toMatchObject({ restartCount: 1, restartReasons: ['exited with status 137'] });
  });

  it('the warm pool hands out ready containers, each with its own key, and refills', async () => {
    const { lifecycle } = await open({ warm: { [IMAGE]: 1 } });
    await until(() => lifecycle.warmPool()[IMAGE].ready === 1, 30_000, 'one warm');
    const keys = new Set<string>();
    for (const session of ['w1', 'w2']) {
      await until(() => lifecycle.warmPool()[IMAGE].ready === 1, 30_000, 'refilled');
      const r = await lifecycle.start({ image: IMAGE, sessionId: session });
      expect(keys.has(r.apiKey)).toBe(false);
      keys.add(r.apiKey);
      expect(await run(r.directUrl!, r.apiKey, 'echo warm')).toBe('warm');
    }
    await until(() => lifecycle.warmPool()[IMAGE].ready === 1, 30_000, 'refilled at the end');
    expect(await ours(lifecycle)).toHaveLength(3);
    // OpenHands' start (its environment, --working-dir, --username and --user-id) from the pool: the
    // image has no such user and no /workspace; the sandbox's server makes both at the hand-out.
    const warmIds = new Set(lifecycle.warmPool()[IMAGE].sandboxIds);
    const oh = await lifecycle.start({ image: IMAGE, sessionId: 'oh', env: { FOO: 'from the start' }, workingDir: '/workspace', username: 'openhands', userId: 1000 });
    expect(warmIds.has(oh.sandboxId!)).toBe(true);
    expect(await run(oh.directUrl!, oh.apiKey, 'echo "$FOO"; id -un; id -u; pwd; touch /workspace/x && echo written')).toBe('from the start\nopenhands\n1000\n/workspace\nwritten');
  });

  it('reopened: a container removed while away stops its record, one with no record is removed, the rest keep their clocks', async () => {
    const name = `reopen-${Date.now()}`;
    const first = (await open({}, name)).lifecycle;
    const kept = await first.start({ image: IMAGE, sessionId: 'kept', ttlSeconds: 900 });
    const gone = await first.start({ image: IMAGE, sessionId: 'gone' });
    const paused = await first.pause((await first.start({ image: IMAGE, sessionId: 'paused' })).runtimeId);
    await first.close();
    docker('rm', '-f', gone.sandboxId!);
    const orphan = docker('run', '-d', '--label', `${LABELS.managed}=runtime-client-api`, '--label', `${LABELS.service}=${first.serviceLabels[LABELS.service]}`, '--label', `${LABELS.runtimeId}=rt-ffffffffffffffffffffffff`, IMAGE, 'sleep', '600');
    const second = (await open({}, name)).lifecycle;
    expect(second.reconciled).toEqual({ removed: 1, stopped: 1, failed: 0, restarted: 0 });
    expect(docker('ps', '-aq', '--no-trunc', '--filter', `id=${orphan}`)).toBe('');
    expect(second.get(gone.runtimeId)).toMatchObject({ status: 'stopped', podStatus: 'not found' });
    expect(second.get(kept.runtimeId)).toMatchObject({ status: 'running', podStatus: 'ready', expiresAt: kept.expiresAt });
    expect(second.get(paused.runtimeId)).toMatchObject({ status: 'paused', pausedAt: paused.pausedAt });
    expect(await run(kept.directUrl!, kept.apiKey, 'echo still')).toBe('still');
  });

  it('an image the engine lacks: image_not_found, no container, no record', async () => {
    const { lifecycle } = await open();
    const e = await lifecycle.start({ image: 'rc-test/no-such-image:404', sessionId: 'x' }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(LifecycleError);
    expect((e as LifecycleError).code).toBe('image_not_found');
    expect(await ours(lifecycle)).toHaveLength(0);
    expect(lifecycle.bySession('x')).toBeUndefined();
  });
});
