#!/usr/bin/env node
// Benchmark of the control plane as a user runs it: a real `runtime-client api` (dist/cli.mjs, the
// Docker backend, its own --state-dir in a temp dir, --max-runtimes 60) on the real engine with
// rc-test/bookworm:1, measured against its floors in the same run (issue 13):
//   - /start to `pod_status: ready`, cold, p50 and p90, alternating with its floor: `docker run -d`
//     (the CLI, mount mode: the arguments of `runtime-client docker-args --base-image IMAGE`, the
//     key from the environment, the port published at a free port picked beforehand) plus polling
//     /alive every 10 ms as the service does (control/lifecycle/alive.ts);
//   - `echo hi` (POST /execute_action, keep-alive) through the service's proxy /r/{runtime_id}
//     against the runtime's direct URL (its published port), alternating, p50 and p90; a bare
//     node:http forwarder in a process of its own, to where the proxy goes, shows what any hop costs;
//   - 50 concurrent /start calls (50 sessions): time until every one answered ready, against the
//     same 50 sandboxes made at once by the Docker driver alone (no service), and the CPU each used;
//   - the service's RSS at 50 runtimes, next to the same service idle (before any runtime);
//   - the memory of one idle runtime (its container's cgroup, as `docker stats` counts it, and the
//     processes in it), the median over the 50;
//   - /start from the warm pool, p50 and p90, plain and as OpenHands sends it (environment, working
//     dir, user to create): a second service with --warm IMAGE=N; each take waits
//     for the pool to be full again, so every take finds a ready sandbox and no refill running.
// Prints a markdown table; a missed target says FAIL in it, and the exit status is non-zero only on
// a real error. Every runtime is stopped (POST /stop), every container of each service (its
// dev.runtime-client.service label) and of the floor (rc-bench.control=<run>) removed, the
// services stopped (SIGTERM) and their state dirs deleted, also after an error or Ctrl-C.
//
//   npm run build && npm run bundle, test/images/build.sh bookworm, then:
//   node bench/control.mjs
// Environment: BENCH_COLD_RUNS (15: cold starts, and as many floor runs), BENCH_WARM_RUNS (10),
// BENCH_WARM_POOL (2: N of --warm), BENCH_CONCURRENT (50), BENCH_ECHO (1000 requests each path),
// BENCH_CPU_PROF=DIR (run the services under `node --cpu-prof --cpu-prof-dir DIR`), DOCKER (docker).
import net from 'node:net';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { docker } from './lib/docker.mjs';
import { echoPaths, q } from './lib/echo.mjs';
import { FORWARDER_SCRIPT } from './lib/forwarder.mjs';

const root = new URL('..', import.meta.url).pathname;
const CLI = join(root, 'dist', 'cli.mjs');
const BUNDLE = process.env.RUNTIME_CLIENT_BUNDLE ?? join(root, 'dist', 'runtime-client');
const IMAGE = 'rc-test/bookworm:1';
const COLD_RUNS = Number(process.env.BENCH_COLD_RUNS || 15);
const WARM_RUNS = Number(process.env.BENCH_WARM_RUNS || 10);
const WARM_POOL = Number(process.env.BENCH_WARM_POOL || 2);
const CONCURRENT = Number(process.env.BENCH_CONCURRENT || 50);
const ECHO = Number(process.env.BENCH_ECHO || 1000);
const CPU_PROF = process.env.BENCH_CPU_PROF;
const MAX_RUNTIMES = 60;
const RUN = `${process.pid}-${randomBytes(3).toString('hex')}`;
const FLOOR_LABEL = `rc-bench.control=${RUN}`;
/** The label every sandbox of one service carries (control/driver.ts LABELS.service). */
const SERVICE_LABEL = 'dev.runtime-client.service';

// ---- small helpers

const ms = (x, d = 0) => `${x.toFixed(d)} ms`;
const mib = (bytes) => `${(bytes / 1048576).toFixed(1)} MiB`;

/** Bounded parallelism: `fn` over `items`, at most `n` at a time. */
async function pool(items, n, fn) {
  const out = [];
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  }));
  return out;
}

/** A TCP port nothing listens on now (for the floor's `-p 127.0.0.1:PORT:60000`). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * As control/lifecycle/alive.ts: GET /alive every 10 ms until it answers 200, each try ended by a
 * plain (ref'd) timer at 2 s as well as its abort: a connection the engine's port proxy accepted
 * before the server listened may never answer, and the abort alone has been seen not to end it.
 */
async function waitAlive(url, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const abort = new AbortController();
    let timer;
    const late = new Promise((resolve) => (timer = setTimeout(() => (abort.abort(), resolve(0)), 2000)));
    const probe = fetch(`${url}/alive`, { signal: abort.signal })
      .then(async (res) => (await res.arrayBuffer().catch(() => undefined), res.status))
      .catch(() => 0);
    const status = await Promise.race([probe, late]);
    clearTimeout(timer);
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`${url}/alive did not answer 200 within ${timeoutMs} ms`);
    await sleep(10);
  }
}

/** RSS and peak RSS of a process, in bytes (Linux /proc). */
function rssOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kib('VmRSS'), peak: kib('VmHWM') };
}

/** CPU seconds a process has used (user + system), from /proc/PID/stat; NaN when it is gone. */
function cpuOf(pid) {
  try {
    const rest = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').pop().split(' ');
    return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
  } catch {
    return NaN;
  }
}
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;

/** The machine's busy CPU seconds so far (every core; everything that runs here, other work too). */
function machineBusy() {
  const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = ticks;
  return (user + nice + system + irq + softirq + steal) / CLK_TCK;
}

/** Pids of the engine's daemons on this host (dockerd, containerd), when it runs here. */
function enginePids() {
  const out = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (['dockerd', 'containerd'].includes(readFileSync(`/proc/${pid}/comm`, 'utf8').trim())) out.push(Number(pid));
    } catch {
      // gone
    }
  }
  return out;
}

/** CPU seconds used by the service, the engine's daemons and the whole machine since `cpuMark` was taken. */
function cpuMark(servicePid) {
  const engine = enginePids();
  const take = () => ({ service: cpuOf(servicePid), engine: engine.reduce((a, pid) => a + cpuOf(pid), 0), machine: machineBusy() });
  const before = take();
  return () => {
    const after = take();
    return { service: after.service - before.service, engine: engine.length ? after.engine - before.engine : NaN, machine: after.machine - before.machine };
  };
}
const cpuText = (c, wallMs) => `CPU seconds over the ${(wallMs / 1000).toFixed(1)} s: the service ${c.service.toFixed(2)}, dockerd + containerd ${c.engine.toFixed(2)}, the whole machine ${c.machine.toFixed(2)} (of ${((wallMs / 1000) * cores).toFixed(1)} on ${cores} cores; other work on it included)`;
const cores = Number(spawnSync('nproc', { encoding: 'utf8' }).stdout) || 1;

// ---- the service

/**
 * Starts `runtime-client api --port 0` with its own state dir and key; resolves once it listens.
 * Keeps its log lines (pino JSON) and follows the warm pool from them.
 */
async function startService(name, extraArgs) {
  const stateDir = mkdtempSync(join(tmpdir(), `rc-bench-control-${name}-`));
  const key = randomBytes(16).toString('hex');
  const prof = CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', CPU_PROF, '--cpu-prof-name', `control-${name}-${RUN}.cpuprofile`] : [];
  const args = [...prof, CLI, 'api', '--port', '0', '--state-dir', stateDir, '--max-runtimes', String(MAX_RUNTIMES), '--log-level', 'info', ...extraArgs];
  const proc = spawn(process.execPath, args, { env: { ...process.env, RUNTIME_API_KEY: key }, stdio: ['ignore', 'pipe', 'pipe'] });
  const service = { name, stateDir, key, proc, url: null, pid: proc.pid, serviceId: null, logs: [], warmReady: new Set(), stderr: '', started: new Set() };
  proc.stderr.on('data', (c) => (service.stderr = (service.stderr + c).slice(-4000)));
  const listening = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`runtime-client api (${name}) did not listen within 30 s: ${service.stderr}`)), 30_000);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`runtime-client api (${name}) exited with ${code} before listening: ${service.stderr}`));
    });
    createInterface({ input: proc.stdout }).on('line', (line) => {
      let entry;
      try {
        entry = JSON.parse(line);
      } catch {
        return;
      }
      service.logs.push(entry);
      if (entry.runtimeId && entry.event === 'started') service.started.add(entry.runtimeId);
      // A warm sandbox is ready in the pool until a /start takes it ('started' ... 'from the warm pool').
      if (entry.event === 'ready' && entry.warm && !entry.session) service.warmReady.add(entry.runtimeId);
      if (entry.event === 'started' && entry.reason === 'from the warm pool') service.warmReady.delete(entry.runtimeId);
      if (entry.event === 'stopped') service.warmReady.delete(entry.runtimeId);
      if (entry.msg === 'runtime API listening') {
        clearTimeout(timer);
        service.url = entry.url;
        if (entry.pid) service.pid = entry.pid;
        resolve();
      }
    });
  });
  services.push(service);
  await listening;
  // The service's id (its sandboxes' label), from its database: known before any sandbox exists.
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(join(stateDir, 'state.db'), { readonly: true, fileMustExist: true });
  try {
    service.serviceId = db.prepare(`SELECT value FROM meta WHERE key = 'service_id'`).get().value;
  } finally {
    db.close();
  }
  return service;
}

/** An API call; resolves with [status, json]. */
async function api(service, method, path, body) {
  const res = await fetch(`${service.url}${path}`, {
    method,
    headers: { 'x-api-key': service.key, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = { text };
  }
  return [res.status, json];
}

let sessions = 0;
/** POST /start for a new session; resolves with [ms, answer]. Anything but 200 ready is an error. */
/** What OpenHands' RemoteRuntime sends in /start beyond the image and session (openhands-ai 1.6.0, run_as_openhands). */
const OPENHANDS_START = {
  command: ['/openhands/micromamba/bin/micromamba', 'run', '-n', 'openhands', 'poetry', 'run', 'python', '-u', '-m', 'openhands.runtime.action_execution_server', '60000', '--working-dir', '/workspace', '--plugins', 'agent_skills', 'jupyter', '--username', 'openhands', '--user-id', '1000'],
  working_dir: '/openhands/code/',
  environment: { DEBUG: 'false', LOG_JSON: '1', PYTHONUNBUFFERED: '1', SANDBOX_USER_ID: '1000' },
  resource_factor: 1,
};

async function start(service, extra = {}) {
  const session = `bench-${RUN}-${++sessions}`;
  const t = performance.now();
  const [status, body] = await api(service, 'POST', '/start', { image: IMAGE, session_id: session, ...extra });
  const took = performance.now() - t;
  if (status !== 200 || body.pod_status !== 'ready') throw new Error(`/start (${service.name}): HTTP ${status} ${JSON.stringify(body).slice(0, 300)}`);
  service.started.add(body.runtime_id);
  return [took, body];
}

async function stop(service, runtimeId) {
  const [status, body] = await api(service, 'POST', '/stop', { runtime_id: runtimeId });
  if (status !== 200) throw new Error(`/stop ${runtimeId}: HTTP ${status} ${JSON.stringify(body).slice(0, 300)}`);
}

/** The service's `ms` for each runtime's ready event (its own time from create to /alive 200). */
const readyMs = (service, pred) => service.logs.filter((e) => e.event === 'ready' && typeof e.ms === 'number' && pred(e)).map((e) => e.ms);

// ---- clean-up (idempotent: after the measures, after an error, on Ctrl-C)

const services = [];
let cleaning;
function cleanUp() {
  cleaning ??= (async () => {
    for (const s of services) {
      if (s.url && s.proc.exitCode === null) {
        const [, listed] = await api(s, 'GET', '/list').catch(() => [0, { runtimes: [] }]);
        const live = (listed.runtimes ?? []).filter((r) => r.status !== 'stopped').map((r) => r.runtime_id);
        await pool(live, 8, (id) => stop(s, id).catch((e) => console.error(`clean-up: ${e.message}`)));
      }
      if (s.proc.exitCode === null && s.proc.signalCode === null) {
        const exited = new Promise((r) => s.proc.once('exit', r));
        s.proc.kill('SIGTERM');
        await exited;
      }
    }
    // The safety net: whatever the services or the floor left, by their labels.
    const labels = [FLOOR_LABEL, ...services.filter((s) => s.serviceId).map((s) => `${SERVICE_LABEL}=${s.serviceId}`)];
    for (const label of labels) {
      const ids = (await docker(['ps', '-aq', '--filter', `label=${label}`]).catch(() => '')).split('\n').filter(Boolean);
      if (ids.length) {
        // The warm pool's sandboxes are among them: /stop does not reach them, and a service stopped leaves them.
        console.error(`clean-up: removing ${ids.length} container(s) labelled ${label}`);
        await docker(['rm', '-f', ...ids]).catch((e) => console.error(`clean-up: ${e.message}`));
      }
    }
    for (const s of services) rmSync(s.stateDir, { recursive: true, force: true });
  })();
  return cleaning;
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    console.error(`${signal}: cleaning up`);
    cleanUp().finally(() => process.exit(130));
  });
}

// ---- the floor: docker run (mount mode) + /alive

/** `runtime-client docker-args --base-image IMAGE` as an argv, split by the shell it was quoted for. */
function dockerArgs() {
  const printed = spawnSync(process.execPath, [CLI, 'docker-args', '--base-image', IMAGE, '--bundle', BUNDLE], { encoding: 'utf8' });
  if (printed.status !== 0) throw new Error(`runtime-client docker-args failed: ${printed.stderr}`);
  const split = spawnSync('sh', ['-c', `for a in ${printed.stdout.trim()}; do printf '%s\\0' "$a"; done`], { encoding: 'utf8' });
  if (split.status !== 0) throw new Error(`cannot split the docker-args line: ${split.stderr}`);
  return split.stdout.split('\0').slice(0, -1);
}

async function floorRun(args) {
  const port = await freePort();
  const env = { ...process.env, SESSION_API_KEY: randomBytes(16).toString('hex') };
  const t = performance.now();
  const id = await docker(['run', '-d', '--label', FLOOR_LABEL, '--env', 'SESSION_API_KEY', '--publish', `127.0.0.1:${port}:60000`, ...args], env);
  await waitAlive(`http://127.0.0.1:${port}`);
  const took = performance.now() - t;
  await docker(['rm', '-f', id]);
  return took;
}

/**
 * The floor of N concurrent starts: the same sandboxes (the Docker driver the service uses, the
 * same spec: mount mode, 1 CPU, 2048 MiB, 4096 pids) created on the Engine API at once and /alive
 * polled, with no service in between. Resolves with the wall time until every one answered and
 * the CPU used meanwhile (the bench's own, which makes and polls them, is not counted).
 */
async function driverFloor(n, servicePid) {
  const { DockerDriver } = await import(join(root, 'control', 'dist', 'docker', 'index.js'));
  const driver = new DockerDriver({ bundleDir: BUNDLE });
  const [labelKey, labelValue] = FLOOR_LABEL.split('=');
  const made = [];
  try {
    const cpuDuring = cpuMark(servicePid);
    const t = performance.now();
    await Promise.all(Array.from({ length: n }, async (_, i) => {
      const spec = { runtimeId: `bench-${RUN}-floor-${i}`, sessionId: `floor-${i}`, image: IMAGE, env: {}, apiKey: randomBytes(16).toString('hex'), cpus: 1, memoryMb: 2048, pidsLimit: 4096, labels: { [labelKey]: labelValue } };
      const state = await driver.create(spec);
      made.push(state.id);
      await waitAlive(state.url);
    }));
    return { wall: performance.now() - t, cpu: cpuDuring() };
  } finally {
    await pool(made, 8, (id) => driver.remove(id));
    await driver.close();
  }
}

// ---- echo hi: proxy vs direct

/**
 * A bare node:http forwarder in a process of its own (keep-alive agent, headers as they came,
 * bodies piped; no checks, no touch, no metrics) to `target`: what one more hop through any node
 * process costs here, as the service's proxy is. Resolves with its URL and a stop function.
 */
async function bareForwarder(target) {
  const child = spawn(process.execPath, [FORWARDER_SCRIPT, target], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve, reject) => {
    child.once('exit', (c) => reject(new Error(`the bare forwarder exited with ${c}`)));
    createInterface({ input: child.stdout }).once('line', (line) => resolve(Number(line)));
  });
  return { url: `http://127.0.0.1:${port}`, stop: () => new Promise((r) => (child.removeAllListeners('exit'), child.once('exit', r), child.kill('SIGTERM'))) };
}

async function echoRows(service, runtime) {
  const container = `rc-${runtime.runtime_id}`;
  const direct = `http://${(await docker(['port', container, '60000/tcp'])).split('\n')[0]}`;
  // The forwarder goes where the service's proxy goes: the bridge address when there is one.
  const bridge = await docker(['inspect', '--format', '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}', container]);
  const bridgeIp = bridge.split(' ').find(Boolean);
  const forwarder = await bareForwarder(bridgeIp ? `http://${bridgeIp}:60000` : direct);
  try {
    const [directTimes, bare, proxied] = await echoPaths(runtime.session_api_key, [direct, forwarder.url, runtime.url], ECHO);
    return { direct: directTimes, bare, proxied };
  } finally {
    await forwarder.stop();
  }
}

// ---- memory of a runtime

/** The container's memory as `docker stats` counts it (usage less inactive file pages) and raw, in bytes; null when its cgroup is not readable here. */
function cgroupMemory(id) {
  const dirs = [`/sys/fs/cgroup/memory/docker/${id}`, `/sys/fs/cgroup/system.slice/docker-${id}.scope`, `/sys/fs/cgroup/docker/${id}`];
  for (const dir of dirs) {
    try {
      const v2 = existsSync(join(dir, 'memory.current'));
      const usage = Number(readFileSync(join(dir, v2 ? 'memory.current' : 'memory.usage_in_bytes'), 'utf8'));
      const stat = readFileSync(join(dir, 'memory.stat'), 'utf8');
      const field = (name) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(stat)?.[1] ?? 0);
      const inactive = field(v2 ? 'inactive_file' : 'total_inactive_file');
      return { stats: inactive < usage ? usage - inactive : usage, usage, anon: field(v2 ? 'anon' : 'total_rss') };
    } catch {
      // not this layout
    }
  }
  return null;
}

const UNITS = { B: 1, KiB: 1024, MiB: 1048576, GiB: 1073741824, kB: 1e3, MB: 1e6, GB: 1e9 };

/** Per container id: memory as docker stats counts it; cgroup files when readable, else `docker stats`. */
async function runtimeMemory(ids) {
  const out = new Map();
  for (const id of ids) {
    const m = cgroupMemory(id);
    if (m) out.set(id, m);
  }
  const missing = ids.filter((id) => !out.has(id));
  if (missing.length) {
    const lines = (await docker(['stats', '--no-stream', '--no-trunc', '--format', '{{.ID}} {{.MemUsage}}', ...missing])).split('\n');
    for (const line of lines) {
      const m = /^(\S+) ([\d.]+)([A-Za-z]+) \//.exec(line);
      if (m) out.set(m[1], { stats: Number(m[2]) * (UNITS[m[3]] ?? NaN), usage: null, anon: null });
    }
  }
  return out;
}

/** The processes in one container with their RSS (KiB), from `docker top`. */
async function processesOf(id) {
  const rows = (await docker(['top', id, '-eo', 'pid,rss,comm'])).split('\n').slice(1);
  return rows.map((r) => r.trim().split(/\s+/)).map(([, rss, ...comm]) => ({ rss: Number(rss) * 1024, comm: comm.join(' ') }));
}

// ---- the run

async function main() {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: npm run build`);
  if (!existsSync(join(BUNDLE, 'manifest.json'))) throw new Error(`no bundle at ${BUNDLE}: npm run bundle`);
  await docker(['info', '--format', '{{.ServerVersion}}']).catch((e) => {
    throw new Error(`no Docker engine answers (bash scripts/docker-engine.sh starts one): ${e.message}`);
  });
  await docker(['image', 'inspect', '--format', '{{.Id}}', IMAGE]).catch(() => {
    throw new Error(`${IMAGE} is missing: test/images/build.sh bookworm`);
  });
  const floorArgs = dockerArgs();
  const rows = [];
  const notes = [];

  // Service 1: no warm pool. Cold starts, the proxy, 50 concurrent, RSS, a runtime's memory.
  const s1 = await startService('cold', []);
  await api(s1, 'GET', '/health');
  await sleep(1000);
  const idle = rssOf(s1.pid);

  // One of each first, unrecorded: page cache, the CLI binary, the engine's paths.
  const [, first] = await start(s1);
  await stop(s1, first.runtime_id);
  await floorRun(floorArgs);
  const cold = [];
  const floor = [];
  for (let i = 0; i < COLD_RUNS; i++) {
    const coldRun = async () => {
      const [took, body] = await start(s1);
      cold.push(took);
      await stop(s1, body.runtime_id);
    };
    const floorOne = async () => floor.push(await floorRun(floorArgs));
    if (i % 2 === 0) {
      await coldRun();
      await floorOne();
    } else {
      await floorOne();
      await coldRun();
    }
  }
  const coldServiceMs = readyMs(s1, (e) => !e.warm).slice(1);
  rows.push([
    '`/start` to `pod_status: ready`, cold',
    `p50 ${ms(q(cold, 0.5))}, p90 ${ms(q(cold, 0.9))}`,
    '<= 400 ms (p50)',
    `\`docker run -d\` (mount mode) + /alive every 10 ms: p50 ${ms(q(floor, 0.5))}, p90 ${ms(q(floor, 0.9))}`,
    q(cold, 0.5) <= 400 ? 'ok' : 'FAIL',
  ]);
  notes.push(`cold: the service's own \`ms\` (create -> /alive 200, from its log) p50 ${ms(q(coldServiceMs, 0.5))}; ${COLD_RUNS} starts and ${COLD_RUNS} floor runs, alternating`);

  // echo hi through the proxy vs the direct URL, on one runtime.
  const [, one] = await start(s1);
  const { direct, bare, proxied } = await echoRows(s1, one);
  await stop(s1, one.runtime_id);
  const cost = q(proxied, 0.5) - q(direct, 0.5);
  rows.push([
    '`echo hi` through the proxy',
    `p50 ${ms(q(proxied, 0.5), 3)}, p90 ${ms(q(proxied, 0.9), 3)}; cost p50 - p50 = ${ms(cost, 3)}`,
    '<= 0.3 ms over direct',
    `the direct URL (published port): p50 ${ms(q(direct, 0.5), 3)}, p90 ${ms(q(direct, 0.9), 3)}`,
    cost <= 0.3 ? 'ok' : 'FAIL',
  ]);
  notes.push(`echo hi: ${ECHO} requests on each path, alternating; a bare node:http forwarder in a process of its own to the same address as the proxy: p50 ${ms(q(bare, 0.5), 3)}, p90 ${ms(q(bare, 0.9), 3)}, cost p50 - p50 = ${ms(q(bare, 0.5) - q(direct, 0.5), 3)} (the proxy's own work is the difference between it and the proxy)`);

  // 50 concurrent /start, 50 sessions.
  const cpuDuring = cpuMark(s1.pid);
  const t = performance.now();
  const each = await Promise.all(Array.from({ length: CONCURRENT }, () => start(s1).then(([took, body]) => [took, body])));
  const all = performance.now() - t;
  const cpu = cpuDuring();
  const ids = each.map(([, body]) => body.runtime_id);
  const lat = each.map(([took]) => took);
  const atFifty = rssOf(s1.pid);
  const concurrentRow = rows.push([]) - 1;
  const concurrentServiceMs = readyMs(s1, (e) => !e.warm).slice(-CONCURRENT);
  notes.push(`${CONCURRENT} concurrent: the service's own \`ms\` per runtime p50 ${ms(q(concurrentServiceMs, 0.5))}, max ${ms(Math.max(...concurrentServiceMs))}; ${cpuText(cpu, all)}`);

  // Idle a while: the runtimes' shells settle; then their memory and the service's RSS.
  await sleep(5000);
  const containers = (await docker(['ps', '-q', '--no-trunc', '--filter', `label=${SERVICE_LABEL}=${s1.serviceId}`])).split('\n').filter(Boolean);
  if (containers.length !== CONCURRENT) throw new Error(`${CONCURRENT} runtimes started, but ${containers.length} containers carry the service's label`);
  const settled = rssOf(s1.pid);
  rows.push([
    `the service's RSS at ${CONCURRENT} runtimes`,
    `${mib(settled.rss)} (${mib(atFifty.rss)} as the last became ready; peak ${mib(settled.peak)})`,
    'report',
    `the service idle, before any runtime: ${mib(idle.rss)}`,
    '',
  ]);
  const memory = await runtimeMemory(containers);
  const stats = [...memory.values()].map((m) => m.stats);
  const usage = [...memory.values()].map((m) => m.usage).filter((x) => x !== null);
  const anon = [...memory.values()].map((m) => m.anon).filter((x) => x !== null);
  const procs = await processesOf(containers[0]);
  rows.push([
    'memory of one idle runtime (container + server)',
    `${mib(q(stats, 0.5))} as \`docker stats\` counts it (median of ${stats.length}, ${mib(Math.min(...stats))}-${mib(Math.max(...stats))})`,
    'report',
    usage.length ? `its cgroup: usage ${mib(q(usage, 0.5))} (page cache in), anon ${mib(q(anon, 0.5))}` : '',
    '',
  ]);
  notes.push(`one idle runtime's processes (RSS): ${procs.map((p) => `${p.comm} ${mib(p.rss)}`).join(', ')}`);
  await pool(ids, 8, (id) => stop(s1, id));
  const after = rssOf(s1.pid);
  notes.push(`the service's RSS once the ${CONCURRENT} were stopped: ${mib(after.rss)}`);

  // Its floor: the same sandboxes at once on the Engine API, no service.
  const { wall: floorAll, cpu: floorCpu } = await driverFloor(CONCURRENT, s1.pid);
  notes.push(`${CONCURRENT} concurrent, floor (the service idle meanwhile): ${cpuText(floorCpu, floorAll)}`);
  rows[concurrentRow] = [
    `${CONCURRENT} concurrent \`/start\` (${CONCURRENT} sessions): all ready`,
    `${ms(all)} (each: p50 ${ms(q(lat, 0.5))}, max ${ms(Math.max(...lat))})`,
    '<= 10 s on 2 cores',
    `the same ${CONCURRENT} sandboxes created at once by the Docker driver (Engine API, no service) + /alive: ${ms(floorAll)}`,
    all <= 10_000 ? 'ok' : 'FAIL',
  ];

  // Service 2: a warm pool of N; each take waits for the pool to be full again.
  const s2 = await startService('warm', ['--warm', `${IMAGE}=${WARM_POOL}`]);
  const poolFull = async () => {
    const deadline = Date.now() + 120_000;
    while (s2.warmReady.size < WARM_POOL) {
      if (Date.now() > deadline) throw new Error(`the warm pool did not reach ${WARM_POOL} ready in 120 s (has ${s2.warmReady.size}); the service's last lines: ${s2.logs.slice(-8).map((e) => JSON.stringify(e)).join('\n')}\n${s2.stderr}`);
      await sleep(20);
    }
    await sleep(200);
  };
  const warm = [];
  const warmOh = [];
  for (let i = 0; i <= WARM_RUNS; i++) {
    for (const [extra, into] of [[{}, warm], [OPENHANDS_START, warmOh]]) {
      await poolFull();
      const [took, body] = await start(s2, extra);
      if (!s2.logs.some((e) => e.event === 'started' && e.reason === 'from the warm pool' && e.runtimeId === body.runtime_id)) throw new Error(`/start ${body.runtime_id} did not come from the warm pool`);
      if (i > 0) into.push(took);
      await stop(s2, body.runtime_id);
    }
  }
  rows.splice(1, 0, [
    'the same from the warm pool',
    `p50 ${ms(q(warm, 0.5), 1)}, p90 ${ms(q(warm, 0.9), 1)}`,
    '<= 50 ms (p50)',
    '',
    q(warm, 0.5) <= 50 ? 'ok' : 'FAIL',
  ], [
    "OpenHands' start from the warm pool (its environment, `--working-dir /workspace --username openhands --user-id 1000`: the user created at the hand-out)",
    `p50 ${ms(q(warmOh, 0.5), 1)}, p90 ${ms(q(warmOh, 0.9), 1)}`,
    '<= 50 ms (p50)',
    '',
    q(warmOh, 0.5) <= 50 ? 'ok' : 'FAIL',
  ]);
  notes.push(`warm: ${WARM_RUNS} takes from --warm ${IMAGE}=${WARM_POOL}, each once the pool was full again; the service's own \`ms\` p50 ${ms(q(readyMs(s2, (e) => e.warm && e.session).slice(1), 0.5), 1)}`);

  const cpus = (await docker(['info', '--format', '{{.NCPU}} CPUs, engine {{.ServerVersion}}']).catch(() => '?'));
  console.log(`\nruntime-client api (Docker backend, ${IMAGE}, mount mode; ${cpus}; ${new Date().toISOString()})\n`);
  console.log('| measure | runtime-client api | target | floor (same run) | result |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  console.log('');
  for (const n of notes) console.log(`- ${n}`);
}

let failed = false;
try {
  await main();
} catch (e) {
  failed = true;
  console.error(e);
  for (const s of services) if (s.stderr) console.error(`${s.name} service stderr: ${s.stderr}`);
} finally {
  await cleanUp();
}
process.exit(failed ? 1 : 0);
