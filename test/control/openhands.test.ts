// OpenHands' own RemoteRuntime (openhands-ai 1.6.0 from PyPI, scripts/openhands.sh) with
// remote_runtime_api_url pointed at `runtime-client api` on the real Docker engine: connect, run,
// read, write, edit, close paused, found again by a second RemoteRuntime with the same sid and
// resumed with its state kept, stopped; and RemoteRuntimeBuilder's /build, /build_status,
// /image_exists, whose image then starts. The Python side is test/control/openhands/.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { HOST_CLI } from '../helpers/server.js';
import { prepareImages, removeLabelled, requireEngine } from '../docker/engine.js';
import { LABELS } from '../../control/driver.js';

const ROOT = join(import.meta.dirname, '..', '..');
const IMAGE = 'rc-test/bookworm:1';
const KEY = 'openhands-remote-test-key';
const hasEngine = requireEngine();

function runProcess(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => (clearTimeout(timer), resolve({ code, out })));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

let python: string | null = null;
let service: ChildProcess | undefined;
let url = '';
let stateDir = '';
let log = '';

beforeAll(async () => {
  if (!hasEngine) return;
  const install = await runProcess('bash', [join(ROOT, 'scripts/openhands.sh')], process.env, 15 * 60_000);
  if (install.code !== 0) {
    if (process.env.CI === 'true') throw new Error(`OpenHands is not installed, and CI=true: ${install.out}`);
    console.warn(`\n!! OpenHands RemoteRuntime test SKIPPED: scripts/openhands.sh failed. Set it up with: bash scripts/openhands.sh\n${install.out}`);
    return;
  }
  python = install.out.trim().split('\n').at(-1)!;
  prepareImages('bookworm');
  stateDir = mkdtempSync(join(tmpdir(), 'rc-api-oh-'));
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  service = spawn(process.execPath, [HOST_CLI, 'api', '--host', '127.0.0.1', '--port', String(port), '--state-dir', stateDir, '--max-runtimes', '5', '--warm', `${IMAGE}=1`], {
    env: { ...process.env, RUNTIME_API_KEY: KEY },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  service.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  service.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ok = await fetch(`${url}/health`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline || service.exitCode !== null) throw new Error(`runtime-client api did not come up:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  // The warm sandbox ready, so that OpenHands' first start is served from the pool.
  const warmBy = Date.now() + 60_000;
  while (!events().some((e) => e.event === 'ready' && e.warm === true)) {
    if (Date.now() > warmBy || service.exitCode !== null) throw new Error(`the warm sandbox did not become ready:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}, 16 * 60_000);

/** The service's lifecycle events so far. */
function events(): { event?: string; warm?: boolean; session?: string | null; reason?: string; msg?: string; service?: string }[] {
  return log.split('\n').flatMap((line) => {
    try {
      return [JSON.parse(line)];
    } catch {
      return [];
    }
  });
}

afterAll(async () => {
  // Everything this service made goes (other test files' services run at the same time).
  if (service && service.exitCode === null) {
    const headers = { 'x-api-key': KEY, 'content-type': 'application/json' };
    const list = await fetch(`${url}/list`, { headers }).then((r) => r.json(), () => ({ runtimes: [] }));
    for (const r of (list as { runtimes: { runtime_id: string }[] }).runtimes ?? []) {
      await fetch(`${url}/stop`, { method: 'POST', headers, body: JSON.stringify({ runtime_id: r.runtime_id }) }).catch(() => {});
    }
  }
  if (service && service.exitCode === null) {
    const exited = new Promise((r) => service!.once('exit', r));
    service.kill('SIGTERM');
    await exited;
  }
  // A stopped service leaves its sandboxes (the warm one too) for its next start: they go by its label.
  const serviceId = events().find((e) => e.msg === 'runtime API listening')?.service;
  if (serviceId) await removeLabelled(`${LABELS.service}=${serviceId}`);
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

it('OpenHands 1.6.0 RemoteRuntime and RemoteRuntimeBuilder work against runtime-client api unchanged', async (ctx) => {
  if (!python || !service) return ctx.skip();
  const ran = await runProcess(
    python,
    ['-m', 'pytest', join(ROOT, 'test/control/openhands'), '-q', '-rfE', '-p', 'no:cacheprovider'],
    { ...process.env, RC_API_URL: url, RC_API_KEY: KEY, RC_IMAGE: IMAGE, RC_BASE_IMAGE: IMAGE, LITELLM_LOCAL_MODEL_COST_MAP: 'True', PYTHONDONTWRITEBYTECODE: '1' },
    10 * 60_000,
  );
  expect(ran.code, `pytest exited ${ran.code}:\n${ran.out}\n--- service log ---\n${log.slice(-8000)}`).toBe(0);
  // OpenHands' start (its environment, /workspace, user openhands 1000) was served from the warm pool.
  expect(events().some((e) => e.event === 'started' && e.reason === 'from the warm pool' && e.session?.startsWith('oh-'))).toBe(true);
}, 11 * 60_000);
