// The lifecycle when a sandbox dies, over the real Docker driver and engine (rc-test/bookworm:1 in
// mount mode): runtime-client killed inside its container comes back (restart policy on-failure)
// with its filesystem, at a new address, counted in restart_count with its reason; deaths close
// together are a crash loop; the 4th death is final (failed), and a new start of the session
// replaces it; an outside `docker kill` and the service's own stop are never fought by the
// restart policy; deaths while the service was away are found again at its next open.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { OOM_WINDOW_MS } from '../../control/lifecycle/deaths.js';
import { DIED_AWAY } from '../../control/lifecycle/reconcile.js';
import { run, until } from './lifecycle-fixture.js';
import { dockerLifecycles } from './docker-lifecycles.js';

const { hasEngine, open, driver: dockerDriver } = dockerLifecycles('rc-failures-docker');
const IMAGE = 'rc-test/bookworm:1';

const docker = (...args: string[]) => execFileSync('docker', args, { encoding: 'utf8' }).trim();
/** Kills runtime-client (tini's child, PID 1's) inside the container, as a program in the sandbox could. */
const killInside = (container: string) => docker('exec', container, 'sh', '-c', 'kill -9 $(cat /proc/1/task/1/children)');
const restartCountOf = (container: string) => Number(docker('inspect', '--format', '{{.RestartCount}}', container));
const stateOf = (container: string) => docker('inspect', '--format', '{{.State.Status}}', container);

describe.skipIf(!hasEngine)('a sandbox that dies, on Docker', () => {
  it('runtime-client killed inside comes back: running, then ready at its new address, its files kept, the death counted', async () => {
    const { lifecycle, lines } = await open();
    const r = await lifecycle.start({ image: IMAGE, sessionId: 'back' });
    expect(JSON.parse(docker('inspect', '--format', '{{json .HostConfig.RestartPolicy}}', r.sandboxId!))).toEqual({ Name: 'on-failure', MaximumRetryCount: 3 });
    expect(await run(r.directUrl!, r.apiKey, 'echo kept > /tmp/mark && echo written')).toBe('written');
    killInside(r.sandboxId!);
    await until(() => lifecycle.get(r.runtimeId)!.restartCount === 1, 10_000, 'the death counted');
    await until(() => lifecycle.get(r.runtimeId)!.podStatus === 'ready', 60_000, 'ready again');
    const back = lifecycle.get(r.runtimeId)!;
    expect(back).toMatchObject({ status: 'running', podStatus: 'ready', restartCount: 1, restartReasons: ['exited with status 137'], sandboxId: r.sandboxId });
    // The engine published its port again, maybe elsewhere: the record follows it.
    expect(back.directUrl).toBe((await dockerDriver().inspect(r.sandboxId!))!.url);
    expect(await run(back.directUrl!, r.apiKey, 'cat /tmp/mark')).toBe('kept');
    const events = lines().filter((l) => l.runtimeId === r.runtimeId).map((l) => `${l.event}${l.podStatus ? `:${l.podStatus}` : ''}`);
    expect(events).toEqual(['started', 'ready', 'restarting:running', 'ready']);
    // A session's start returns it (it is ready), not a new one.
    expect((await lifecycle.start({ image: IMAGE, sessionId: 'back' })).runtimeId).toBe(r.runtimeId);
  }, 120_000);

  it("a runtime from the warm pool comes back configured: its key, environment, working dir and user hold", async () => {
    const { lifecycle } = await open({ warm: { [IMAGE]: 1 } });
    await until(() => lifecycle.warmPool()[IMAGE].ready === 1, 60_000, 'one warm');
    const r = await lifecycle.start({ image: IMAGE, sessionId: 'warm-back', env: { FOO: 'kept' }, workingDir: '/workspace', username: 'openhands', userId: 1000 });
    expect(r.sandboxId).not.toBeNull();
    const who = 'echo "$FOO"; id -un; pwd';
    expect(await run(r.directUrl!, r.apiKey, who)).toBe('kept\nopenhands\n/workspace');
    killInside(r.sandboxId!);
    await until(() => lifecycle.get(r.runtimeId)!.restartCount === 1, 10_000, 'the death counted');
    await until(() => lifecycle.get(r.runtimeId)!.podStatus === 'ready', 60_000, 'ready again');
    const back = lifecycle.get(r.runtimeId)!;
    expect(await run(back.directUrl!, r.apiKey, who)).toBe('kept\nopenhands\n/workspace');
  }, 120_000);

  it('deaths within 60 s are a crash loop; the 4th death is final (failed, every reason kept); a new start replaces it', async () => {
    const { lifecycle, lines } = await open();
    const r = await lifecycle.start({ image: IMAGE, sessionId: 'loop' });
    for (let death = 1; death <= 3; death++) {
      killInside(r.sandboxId!);
      await until(() => lifecycle.get(r.runtimeId)!.restartCount === death, 10_000, `death ${death} counted`);
      await until(() => lifecycle.get(r.runtimeId)!.podStatus === 'ready', 60_000, `ready after death ${death}`);
    }
    const restarting = lines().filter((l) => l.runtimeId === r.runtimeId && l.event === 'restarting').map((l) => l.podStatus);
    expect(restarting).toEqual(['running', 'crashloopbackoff', 'crashloopbackoff']);
    // The engine restarted it 3 times; the next death it leaves exited.
    killInside(r.sandboxId!);
    await until(() => lifecycle.get(r.runtimeId)!.podStatus === 'failed', 10_000, 'failed for good');
    expect(lifecycle.get(r.runtimeId)).toMatchObject({ status: 'running', restartCount: 4, restartReasons: Array(4).fill('exited with status 137') });
    expect(stateOf(r.sandboxId!)).toBe('exited');
    expect(restartCountOf(r.sandboxId!)).toBe(3);
    const fresh = await lifecycle.start({ image: IMAGE, sessionId: 'loop' });
    expect(fresh.runtimeId).not.toBe(r.runtimeId);
    expect(fresh).toMatchObject({ podStatus: 'ready', restartCount: 0 });
    expect(lifecycle.get(r.runtimeId)).toMatchObject({ status: 'stopped' });
    expect(docker('ps', '-aq', '--filter', `id=${r.sandboxId}`)).toBe('');
  }, 240_000);

  it('an OOM kill of a command is not the reason of a later death: OOMKilled only for a SIGKILL within 5 s of it', async () => {
    const { lifecycle } = await open();
    const r = await lifecycle.start({ image: IMAGE, sessionId: 'oom-earlier', memoryMb: 128 });
    expect(await run(r.directUrl!, r.apiKey, 'head -c 400m /dev/zero | tail > /dev/null; echo $?')).toMatch(/137$/);
    await new Promise((done) => setTimeout(done, OOM_WINDOW_MS + 500));
    killInside(r.sandboxId!);
    await until(() => lifecycle.get(r.runtimeId)!.restartCount === 1, 10_000, 'the death counted');
    expect(lifecycle.get(r.runtimeId)!.restartReasons).toEqual(['exited with status 137']);
    // Docker's own flag says OOMKilled for the container's death: it tells of any OOM kill in it since its start.
    expect(docker('inspect', '--format', '{{.State.OOMKilled}}', r.sandboxId!)).toBe('true');
    await until(() => lifecycle.get(r.runtimeId)!.podStatus === 'ready', 60_000, 'ready again');
  }, 120_000);

  it('an outside `docker kill` is not restarted (failed); the service\'s own stop and pause are not fought by the restart policy', async () => {
    const { lifecycle } = await open();
    const killed = await lifecycle.start({ image: IMAGE, sessionId: 'outside' });
    docker('kill', killed.sandboxId!);
    await until(() => lifecycle.get(killed.runtimeId)!.podStatus === 'failed', 10_000, 'failed');
    expect(lifecycle.get(killed.runtimeId)).toMatchObject({ restartCount: 1, restartReasons: ['exited with status 137'] });
    expect(stateOf(killed.sandboxId!)).toBe('exited');

    const own = await lifecycle.start({ image: IMAGE, sessionId: 'own' });
    await lifecycle.pause(own.runtimeId);
    expect(stateOf(own.sandboxId!)).toBe('paused');
    expect(lifecycle.get(own.runtimeId)).toMatchObject({ status: 'paused', podStatus: 'ready', restartCount: 0 });
    await lifecycle.resume(own.runtimeId);
    await lifecycle.stop(own.runtimeId);
    expect(docker('ps', '-aq', '--filter', `id=${own.sandboxId}`)).toBe('');
    expect(lifecycle.get(own.runtimeId)).toMatchObject({ status: 'stopped', podStatus: 'not found', restartCount: 0 });
  }, 120_000);

  it('deaths while the service was away are found at its next open: restarted ones are probed again, exited ones failed', async () => {
    const name = `away-${Date.now()}`;
    const first = (await open({}, name)).lifecycle;
    const restarted = await first.start({ image: IMAGE, sessionId: 'restarted' });
    const exited = await first.start({ image: IMAGE, sessionId: 'exited' });
    await first.close();
    killInside(restarted.sandboxId!);
    killInside(exited.sandboxId!);
    const deadline = Date.now() + 30_000;
    while ((restartCountOf(restarted.sandboxId!) < 1 || stateOf(restarted.sandboxId!) !== 'running' || stateOf(exited.sandboxId!) !== 'running') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    docker('kill', exited.sandboxId!);

    const { lifecycle: second, lines } = await open({}, name);
    expect(second.reconciled).toEqual({ removed: 0, stopped: 0, failed: 1, restarted: 1 });
    expect(second.get(exited.runtimeId)).toMatchObject({ status: 'running', podStatus: 'failed', restartCount: 2, restartReasons: [DIED_AWAY, 'exited with status 137'] });
    await until(() => second.get(restarted.runtimeId)!.podStatus === 'ready', 60_000, 'ready again');
    const back = second.get(restarted.runtimeId)!;
    expect(back).toMatchObject({ restartCount: 1, restartReasons: [DIED_AWAY], expiresAt: restarted.expiresAt });
    expect(await run(back.directUrl!, back.apiKey, 'echo again')).toBe('again');
    expect(lines().some((l) => l.event === 'restarting' && l.runtimeId === restarted.runtimeId)).toBe(true);
  }, 180_000);
});
