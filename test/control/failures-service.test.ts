// Limits and deaths through the real service (`runtime-client api`, test/helpers/api-service.ts)
// on real containers: a command that allocates past memory_mb is killed and the runtime stays
// ready; runtime-client itself OOM-killed is restarted and /runtime says OOMKilled; a fork bomb
// (bounded by a timeout) against the pids limit leaves the service and the runtime answering.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABELS } from '../../control/driver.js';
import { prepareImages, requireEngine } from '../docker/engine.js';
import { startApiService, type ApiService } from '../helpers/api-service.js';
import { until } from './lifecycle-fixture.js';

const hasEngine = requireEngine();
const IMAGE = 'rc-test/bookworm:1';

const docker = (...args: string[]) => execFileSync('docker', args, { encoding: 'utf8' }).trim();

describe.skipIf(!hasEngine)('limits and deaths through the service', () => {
  let service: ApiService;
  const sessions = new Set<string>();

  beforeAll(async () => {
    prepareImages('bookworm');
    service = await startApiService();
  }, 600_000);

  afterAll(async () => {
    await service?.close(sessions);
  }, 60_000);

  async function api(route: string, body?: unknown): Promise<{ status: number; body: any }> {
    const res = await fetch(`${service.url}${route}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { 'x-api-key': service.key!, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: await res.json() };
  }

  async function start(what: string, extra: Record<string, unknown> = {}): Promise<{ runtime_id: string; url: string; session_api_key: string }> {
    const session = `rct-${what}-${randomBytes(3).toString('hex')}`;
    sessions.add(session);
    const started = await api('/start', { image: IMAGE, session_id: session, ...extra });
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    return started.body;
  }

  /** Runs a command through the runtime's url (the service's proxy); its observation, or the HTTP failure. */
  async function run(rt: { url: string; session_api_key: string }, command: string, timeout = 60): Promise<{ status: number; exitCode?: number; content?: string }> {
    const res = await fetch(`${rt.url}/execute_action`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-session-api-key': rt.session_api_key },
      body: JSON.stringify({ action: { action: 'run', args: { command, blocking: true }, timeout } }),
    }).catch(() => null);
    if (!res) return { status: 0 };
    if (res.status !== 200) return { status: res.status };
    const o = (await res.json()) as { content: string; extras: { metadata: { exit_code: number } } };
    return { status: 200, exitCode: o.extras.metadata.exit_code, content: o.content };
  }

  it('a command that allocates past memory_mb is killed (137), and the runtime stays ready', async () => {
    const rt = await start('oom-cmd', { memory_mb: 128 });
    // tail keeps a "line" of 400 MiB of zeros in memory: the kernel's OOM killer ends it.
    const hog = await run(rt, 'head -c 400m /dev/zero | tail > /dev/null');
    expect(hog).toMatchObject({ status: 200, exitCode: 137 });
    expect(await run(rt, 'echo still here')).toMatchObject({ status: 200, exitCode: 0, content: expect.stringContaining('still here') });
    expect((await api(`/runtime/${rt.runtime_id}`)).body).toMatchObject({ pod_status: 'ready', restart_count: 0, restart_reasons: [] });
  }, 120_000);

  it('runtime-client itself OOM-killed: restarted, /runtime says OOMKilled, ready again with its files', async () => {
    const rt = await start('oom-self', { memory_mb: 128 });
    expect(await run(rt, 'echo kept > /tmp/mark')).toMatchObject({ exitCode: 0 });
    const container = docker('ps', '-q', '--no-trunc', '--filter', `label=${LABELS.runtimeId}=${rt.runtime_id}`);
    // runtime-client (tini's child) first in the OOM killer's choice, then memory runs out.
    docker('exec', container, 'sh', '-c', 'for pid in $(cat /proc/1/task/1/children); do echo 1000 > /proc/$pid/oom_score_adj; done');
    const hog = await run(rt, 'head -c 400m /dev/zero | tail > /dev/null');
    expect(hog.status).not.toBe(200);
    await until(async () => (await api(`/runtime/${rt.runtime_id}`)).body.restart_count === 1, 20_000, 'the death counted');
    await until(async () => (await api(`/runtime/${rt.runtime_id}`)).body.pod_status === 'ready', 60_000, 'ready again');
    expect((await api(`/runtime/${rt.runtime_id}`)).body).toMatchObject({ status: 'running', pod_status: 'ready', restart_count: 1, restart_reasons: ['OOMKilled'] });
    expect(await run(rt, 'cat /tmp/mark')).toMatchObject({ status: 200, content: expect.stringContaining('kept') });
  }, 180_000);

  it('a fork bomb bounded by a timeout leaves the service and the runtime answering', async () => {
    const rt = await start('forkbomb', { memory_mb: 1024 });
    // The bomb runs as a job of its own (the interactive shell gives it a process group); after 5 s
    // the whole group is killed, again and again while forks in flight land, with builtins only
    // (at the pids limit an external command cannot be started). A bare `timeout` would kill only
    // its first shell and leave the bomb forking for good.
    const bomb = await run(rt, "(f() { f | f & }; f; wait) 2>/dev/null & pg=$!; read -t 5 </dev/tty; for i in {1..25}; do kill -KILL -- -$pg 2>/dev/null; read -t 0.2 </dev/tty; done; echo bomb over", 60);
    expect(bomb.status).toBe(200);
    expect(bomb.content).toContain('bomb over');
    // It did reach the pids limit: the pids controller counted refused forks (cgroup v1, else v2).
    const events = await run(rt, 'cat /sys/fs/cgroup/pids/pids.events 2>/dev/null || cat /sys/fs/cgroup/pids.events');
    expect(Number(/max (\d+)/.exec(events.content ?? '')?.[1])).toBeGreaterThan(0);
    expect((await fetch(`${service.url}/health`)).status).toBe(200);
    await until(async () => (await run(rt, 'echo answering')).content?.includes('answering') === true, 60_000, 'the runtime answers');
    // runtime-client itself was never down.
    expect((await api(`/runtime/${rt.runtime_id}`)).body).toMatchObject({ status: 'running', pod_status: 'ready', restart_count: 0 });
  }, 180_000);
});
