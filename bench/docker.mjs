#!/usr/bin/env node
// Benchmark of injecting runtime-client into a Docker image, against floors measured in the same
// run on the same engine and base image: the suffix build (`runtime-client build`), the cached
// second build, the bytes the injection adds (for all five test bases), and `docker run` to the
// first /alive 200 for the built image and for mount mode (`runtime-client docker-args`).
// Run with `npm run bench` (after bench/server.mjs) or `node bench/docker.mjs`.
//
// Uses only the built host CLI (dist/cli.mjs) and the docker CLI. Everything runs on the
// local engine with `--network host`; the servers get a free port through RUNTIME_CLIENT_PORT and
// all test traffic goes to 127.0.0.1. The bundle is snapshotted into a scratch dir first (a
// concurrent `npm run bundle` swaps dist/runtime-client and must not change it mid-run), and a
// per-build nonce file is added to the snapshot so every timed build really copies the bundle
// (the legacy builder would otherwise answer every step from its layer cache).
//
// Prints a markdown table; exits 0 even when a target is missed (FAIL in the table), and when
// there is no Docker engine (a loud notice: skipped); non-zero on a real error. Every container
// (label rc-bench.run=<run>) and every image this run created (rc-bench/* tags and their
// intermediate images) is removed at the end.
import net from 'node:net';
import os from 'node:os';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';

const root = new URL('..', import.meta.url).pathname;
const CLI = join(root, 'dist', 'cli.mjs');
const BUNDLE = join(root, 'dist', 'runtime-client');
const TARBALL = join(root, 'dist', 'runtime-client.tar.gz');
const DOCKER = process.env.DOCKER || 'docker';
const BASE = 'rc-test/bookworm:1';
const BASES = ['rc-test/bookworm:1', 'rc-test/busybox:1', 'rc-test/musl:1', 'rc-test/distroless:1', 'rc-test/nonroot:1'];
const RUN = `${process.pid}-${randomBytes(3).toString('hex')}`;
const LABEL = `rc-bench.run=${RUN}`;
const KEY = randomBytes(16).toString('hex');
const MB = 1e6;
const N_BUILD = 5;
const N_CACHED = 5;
const N_WARM = 3;
const N_START = 7;
const N_EXEC = 10;

let SCRATCH = null;
let SNAP = null; // the bundle snapshot
const createdTags = []; // rc-bench/* tags, in creation order
const createdIds = []; // image ids our builds' steps made (intermediate and final; never a FROM's), in order
const protectedIds = new Set(); // full ids of the base images: never removed, whatever happens

/**
 * A legacy-builder output line handler that records the ids of the images the build's steps
 * created. The id printed after a `FROM` step is the base image's: it is not recorded.
 */
function idCollector() {
  let fromStep = false;
  return (line) => {
    let m;
    if ((m = /^Step \d+\/\d+ : (\S+)/.exec(line))) fromStep = m[1].toUpperCase() === 'FROM';
    else if ((m = /^ ---> ([0-9a-f]{12})\s*$/.exec(line)) && !fromStep) createdIds.push(m[1]);
  };
}
const containers = new Set(); // names of containers we started and have not removed

// ---------------------------------------------------------------- helpers

function log(msg) {
  process.stderr.write(`[bench:docker] ${msg}\n`);
}

function pct(values, p) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}
const median = (v) => pct(v, 50);
const max = (v) => Math.max(...v);

const active = new Set(); // child processes running now (each leads its own process group)
let stopping = false; // set by an interrupt: only the cleanup may start processes then

/** Signals the process group of every running child; resolves when all have exited (or 10 s). */
async function stopChildren() {
  const signal = (sig) => {
    for (const c of active) {
      try {
        process.kill(-c.pid, sig);
      } catch {
        // gone
      }
    }
  };
  signal('SIGTERM');
  for (let i = 0; i < 100 && active.size; i++) await sleep(100);
  if (active.size) signal('SIGKILL');
  for (let i = 0; i < 20 && active.size; i++) await sleep(100);
}

/**
 * Runs a command; resolves { code, stdout, stderr, ms } (never rejects on a non-zero exit;
 * `check` does). `onLine(line, msSinceStart)` sees each stderr+stdout line as it arrives.
 * Each child leads its own process group, so an interrupt can stop it with its children (the
 * CLI's `docker build`) before the cleanup runs.
 */
function run(cmd, args, { env = process.env, timeoutMs = 120000, onLine, cleanup = false } = {}) {
  return new Promise((resolve, reject) => {
    if (stopping && !cleanup) return reject(new Error('stopping'));
    const t0 = performance.now();
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    active.add(child);
    let stdout = '';
    let stderr = '';
    const tails = { out: '', err: '' };
    const feed = (which, chunk) => {
      if (!onLine) return;
      const now = performance.now() - t0;
      const parts = (tails[which] + chunk).split(/\r?\n/);
      tails[which] = parts.pop();
      for (const p of parts) onLine(p, now);
    };
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d) => {
      stdout += d;
      feed('out', d);
    });
    child.stderr.on('data', (d) => {
      stderr += d;
      feed('err', d);
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')} took longer than ${timeoutMs} ms\n${stderr.slice(-2000)}`));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      active.delete(child);
      reject(new Error(`cannot run ${cmd}: ${e.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      active.delete(child);
      const ms = performance.now() - t0;
      if (onLine) {
        if (tails.out) onLine(tails.out, ms);
        if (tails.err) onLine(tails.err, ms);
      }
      resolve({ code, stdout, stderr, ms });
    });
  });
}

async function check(cmd, args, opts) {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}:\n${(r.stderr || r.stdout).trim().split('\n').slice(-15).join('\n')}`);
  return r;
}
const docker = (args, opts) => check(DOCKER, args, opts);

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    // The containers share the host's network namespace and listen on 0.0.0.0.
    s.listen(0, '0.0.0.0', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Shell words as `docker-args` prints them: bare words and '...' with '\'' inside. */
function shellSplit(text) {
  const words = [];
  let cur = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end === -1) throw new Error(`unbalanced quote in: ${text}`);
      cur = (cur ?? '') + text.slice(i + 1, end);
      i = end;
    } else if (c === '\\' && i + 1 < text.length) {
      cur = (cur ?? '') + text[++i];
    } else if (/\s/.test(c)) {
      if (cur !== null) words.push(cur);
      cur = null;
    } else cur = (cur ?? '') + c;
  }
  if (cur !== null) words.push(cur);
  return words;
}

async function imageSize(ref) {
  return Number((await docker(['image', 'inspect', '--format', '{{.Size}}', ref])).stdout.trim());
}

/** Recursively: [file count, bytes of regular files]. */
function treeStats(dir) {
  let files = 0;
  let bytes = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      const [f, b] = treeStats(p);
      files += f;
      bytes += b;
    } else {
      files++;
      if (e.isFile()) bytes += statSync(p).size;
    }
  }
  return [files, bytes];
}

// ---------------------------------------------------------------- setup

async function engineInfo() {
  try {
    const r = await run(DOCKER, ['info', '--format', '{{json .}}'], { timeoutMs: 20000 });
    if (r.code !== 0) return { error: (r.stderr || r.stdout).trim().split('\n').slice(-3).join(' ') };
    return JSON.parse(r.stdout);
  } catch (e) {
    return { error: e.message };
  }
}

/** Builds the CLI / bundle when missing or stale, and the base images (cached: fast). */
async function prerequisites() {
  log('prerequisites: scripts/ensure.mjs, test/images/build.sh');
  await check(process.execPath, [join(root, 'scripts', 'ensure.mjs')], { timeoutMs: 600000, onLine: (l) => l && log(`  ${l}`) });
  if (!existsSync(join(BUNDLE, 'manifest.json'))) {
    log('no dist/runtime-client/manifest.json: npm run bundle');
    await check('npm', ['run', 'bundle', '--silent'], { timeoutMs: 600000, onLine: (l) => l && log(`  ${l}`) });
  }
  const images = await check('bash', [join(root, 'test', 'images', 'build.sh')], { timeoutMs: 600000 });
  return images.stdout.trim().split('\n').map((l) => l.trim().replace(/\s+/g, ' '));
}

/** Copies dist/runtime-client into the scratch dir, retrying while a concurrent bundle swaps it. */
async function snapshotBundle() {
  for (let attempt = 1; ; attempt++) {
    const before = readFileSync(join(BUNDLE, 'manifest.json'), 'utf8');
    const dest = join(SCRATCH, 'runtime-client');
    rmSync(dest, { recursive: true, force: true });
    let ok = true;
    try {
      cpSync(BUNDLE, dest, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
    } catch {
      ok = false;
    }
    const after = existsSync(join(BUNDLE, 'manifest.json')) ? readFileSync(join(BUNDLE, 'manifest.json'), 'utf8') : '';
    const manifest = JSON.parse(before);
    if (ok) {
      const copied = readFileSync(join(dest, 'manifest.json'), 'utf8');
      const [files] = treeStats(dest);
      if (before === after && copied === before && files === manifest.files + 1) return { dir: dest, manifest };
    }
    if (attempt >= 5) throw new Error('dist/runtime-client kept changing while it was copied (a concurrent `npm run bundle`?)');
    log('dist/runtime-client changed during the copy; copying again');
    await sleep(2000);
  }
}

// ---------------------------------------------------------------- builds

/** Parsed `runtime-client build`: wall ms, how, builder, step times, "Using cache" count. */
async function cliBuild(baseImage, tag, { force = true, nonce } = {}) {
  if (nonce !== undefined) writeFileSync(join(SNAP, '.bench-nonce'), `${nonce}\n`);
  const steps = []; // [stepNumber, ms]
  let builder = null;
  let context = null;
  let doneAt = null;
  let cacheHits = 0;
  const collect = idCollector();
  const r = await run(process.execPath, [CLI, 'build', '--base-image', baseImage, '--tag', tag, '--bundle', SNAP, ...(force ? ['--force'] : [])], {
    timeoutMs: 120000,
    onLine: (line, ms) => {
      collect(line);
      let m;
      if ((m = /^building .* \((legacy builder|BuildKit)\)/.exec(line))) builder = m[1];
      else if ((m = /^Step (\d+)\/\d+ :/.exec(line))) steps.push([Number(m[1]), ms]);
      else if (/^ ---> Using cache/.test(line)) cacheHits++;
      else if ((m = /Sending build context to Docker daemon\s+(\S+)/.exec(line.split('\r').pop()))) context = m[1];
      else if (/^Successfully tagged /.test(line)) doneAt = ms;
    },
  });
  if (r.code !== 0) throw new Error(`runtime-client build --base-image ${baseImage} exited ${r.code}:\n${r.stderr.trim().split('\n').slice(-15).join('\n')}`);
  const how = /^(built|cached|base) in ([\d.]+) s$/m.exec(r.stderr);
  if (!how) throw new Error(`runtime-client build printed no "built|cached|base in N s" line:\n${r.stderr.slice(-1500)}`);
  const image = r.stdout.trim();
  if (how[1] === 'built' && !createdTags.includes(tag)) createdTags.push(tag);
  const at = (n) => steps.find(([s]) => s === n)?.[1];
  return { ms: r.ms, how: how[1], cliMs: Number(how[2]) * 1000, image, builder, context, cacheHits, steps, at, doneAt };
}

// ---------------------------------------------------------------- containers

/** GET /alive once with fetch: the status, or null when nothing answers yet. */
async function aliveOnce(port) {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/alive`, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return null;
  }
}

async function execute(port, command) {
  const res = await fetch(`http://127.0.0.1:${port}/execute_action`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-session-api-key': KEY },
    body: JSON.stringify({ action: { action: 'run', args: { command } } }),
    signal: AbortSignal.timeout(15000),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`POST /execute_action: HTTP ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

async function containerLogs(name) {
  const r = await run(DOCKER, ['logs', '--tail', '30', name], { timeoutMs: 10000 }).catch(() => null);
  return r ? `${r.stdout}${r.stderr}`.trim() : '(no logs)';
}

/**
 * Starts a container (`docker run -d` + `argsAfterRun`) and times it: ms until `docker run -d`
 * returned and until the first /alive 200 (polled every ~5 ms with fetch from before the spawn).
 * Then checks it is ours: a session echoes a nonce only this container has in its env.
 */
async function startTimed(kind, argsAfterRun, port) {
  const name = `rc-bench-${RUN}-${kind}-${randomBytes(3).toString('hex')}`;
  const nonce = randomBytes(6).toString('hex');
  const args = ['run', '-d', '--name', name, '--label', LABEL, '--network', 'host', '-e', `SESSION_API_KEY=${KEY}`, '-e', `RC_BENCH_NONCE=${nonce}`, ...argsAfterRun];
  containers.add(name);
  const t0 = performance.now();
  const started = run(DOCKER, args, { timeoutMs: 30000 }).then((r) => ({ ...r, at: performance.now() - t0 }));
  let runResult = null;
  started.then((r) => (runResult = r), () => {});
  let aliveMs = null;
  for (;;) {
    const status = await aliveOnce(port);
    if (status === 200) {
      aliveMs = performance.now() - t0;
      break;
    }
    if (runResult && runResult.code !== 0) throw new Error(`docker run (${kind}) exited ${runResult.code}: ${runResult.stderr.trim()}`);
    if (performance.now() - t0 > 20000) throw new Error(`${kind}: /alive not 200 within 20 s (last ${status}); logs:\n${await containerLogs(name)}`);
    await sleep(5);
  }
  const r = await started;
  if (r.code !== 0) throw new Error(`docker run (${kind}) exited ${r.code}: ${r.stderr.trim()}`);
  const obs = await execute(port, 'echo "$RC_BENCH_NONCE"');
  if (obs.content?.trim() !== nonce || obs.extras?.metadata?.exit_code !== 0) {
    throw new Error(`${kind}: the server on port ${port} is not this container's (echo printed ${JSON.stringify(obs).slice(0, 300)})`);
  }
  return { name, id: r.stdout.trim(), t0, detachedMs: r.at, aliveMs };
}

async function removeContainer(name) {
  await run(DOCKER, ['rm', '-f', name], { timeoutMs: 30000 });
  containers.delete(name);
}

/** ms from `t0` until the container's health status is healthy (polled with docker inspect). */
async function waitHealthy(c) {
  for (;;) {
    const r = await docker(['inspect', '--format', '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}', c.name]);
    const status = r.stdout.trim();
    if (status === 'healthy') return performance.now() - c.t0;
    if (status === 'none') throw new Error(`${c.name} has no health check`);
    if (status === 'unhealthy') {
      const h = await docker(['inspect', '--format', '{{json .State.Health}}', c.name]);
      throw new Error(`${c.name} became unhealthy: ${h.stdout.slice(0, 800)}`);
    }
    if (performance.now() - c.t0 > 30000) throw new Error(`${c.name} not healthy within 30 s (status ${status})`);
    await sleep(100);
  }
}

// ---------------------------------------------------------------- cleanup

const dockerC = (args, timeoutMs = 60000) => run(DOCKER, args, { timeoutMs, cleanup: true });

async function removeOurContainers() {
  const ids = (await dockerC(['ps', '-aq', '--filter', `label=${LABEL}`])).stdout.split('\n').filter(Boolean);
  if (ids.length) await dockerC(['rm', '-f', ...ids]);
  containers.clear();
  return (await dockerC(['ps', '-aq', '--filter', `label=${LABEL}`])).stdout.split('\n').filter(Boolean);
}

/**
 * The images this run made that are still there: the ids its builds printed, plus every image
 * descending from one (a build interrupted after its last printed step). Only untagged images
 * that are not a base image count, so nothing anyone else names can be removed. Deepest first.
 */
async function ourImages() {
  const all = (await dockerC(['image', 'ls', '-aq', '--no-trunc'])).stdout.split('\n').filter(Boolean);
  if (!all.length) return [];
  const r = await dockerC(['image', 'inspect', '--format', '{{.Id}} {{.Parent}} {{len .RepoTags}}', ...new Set(all)]);
  const images = r.stdout.split('\n').filter(Boolean).map((l) => {
    const [id, parent, tags] = l.split(' ');
    return { id, parent: parent || null, tagged: tags !== '0' };
  });
  const short = new Set(createdIds);
  const depth = new Map(); // id -> depth below one of ours
  for (const im of images) if (short.has(im.id.replace(/^sha256:/, '').slice(0, 12))) depth.set(im.id, 0);
  for (let changed = true; changed; ) {
    changed = false;
    for (const im of images) {
      if (!depth.has(im.id) && im.parent && depth.has(im.parent)) {
        depth.set(im.id, depth.get(im.parent) + 1);
        changed = true;
      }
    }
  }
  return images
    .filter((im) => depth.has(im.id) && !im.tagged && !protectedIds.has(im.id))
    .sort((a, b) => depth.get(b.id) - depth.get(a.id))
    .map((im) => im.id);
}

async function cleanup() {
  const problems = [];
  await stopChildren();
  try {
    await removeOurContainers();
  } catch (e) {
    problems.push(`removing containers: ${e.message}`);
  }
  try {
    // Our rc-bench/* tags (that also deletes their untagged parents), then whatever untagged
    // image our builds made that is left (the scratch stage's, an interrupted build's).
    const tags = createdTags.filter((t) => t.startsWith('rc-bench/'));
    for (let i = tags.length - 1; i >= 0; i--) await dockerC(['rmi', tags[i]]);
    for (let pass = 0; pass < 3; pass++) {
      const left = await ourImages();
      if (!left.length) break;
      for (const id of left) await dockerC(['rmi', id]);
    }
    const leftTags = [];
    for (const t of tags) if ((await dockerC(['image', 'inspect', t])).code === 0) leftTags.push(t);
    const leftIds = await ourImages();
    if (leftTags.length || leftIds.length) problems.push(`images left: ${[...leftTags, ...leftIds].join(' ')}`);
  } catch (e) {
    problems.push(`removing images: ${e.message}`);
  }
  try {
    // Again: a `docker run -d` that was under way when an interrupt came.
    const left = await removeOurContainers();
    if (left.length) problems.push(`containers left: ${left.join(' ')}`);
  } catch (e) {
    problems.push(`removing containers: ${e.message}`);
  }
  if (SCRATCH) rmSync(SCRATCH, { recursive: true, force: true });
  return problems;
}

// ---------------------------------------------------------------- main

async function main(info) {
  const started = performance.now();
  const notes = [];
  const f = (x, d = 2) => (typeof x === 'number' ? x.toFixed(d) : x);
  const s = (ms, d = 2) => f(ms / 1000, d);
  const pass = (ok) => (ok ? 'PASS' : 'FAIL');

  const imageLines = await prerequisites();
  for (const base of BASES) protectedIds.add((await docker(['image', 'inspect', '--format', '{{.Id}}', base])).stdout.trim());
  armWatchdog();
  const load = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  SCRATCH = mkdtempSync(join(os.tmpdir(), 'rc-bench-docker-'));
  const snap = await snapshotBundle();
  SNAP = snap.dir;
  const [bundleFiles, bundleBytes] = treeStats(SNAP);
  const duSb = Number((await check('du', ['-sb', BUNDLE])).stdout.split(/\s/)[0]);
  const tarBytes = statSync(TARBALL).size;
  const tarManifest = await run('tar', ['-xzOf', TARBALL, 'runtime-client/manifest.json'], { timeoutMs: 60000 });
  const tarDigest = tarManifest.code === 0 ? JSON.parse(tarManifest.stdout).digest : null;
  const buildx = (await run(DOCKER, ['buildx', 'version'], { timeoutMs: 20000 })).code === 0;

  // --- floors for the builds: a `docker build` that copies nothing, and `docker image inspect`.
  log('floors: docker build FROM base + LABEL (no context), docker image inspect');
  const floorCtx = join(SCRATCH, 'floor-ctx');
  mkdirSync(floorCtx);
  const floorBuilds = [];
  for (let i = 0; i < 3; i++) {
    const tag = `rc-bench/floor:${RUN}-${i}`;
    writeFileSync(join(floorCtx, 'Dockerfile'), `FROM ${BASE}\nLABEL rc-bench.nonce="${RUN}-${i}"\n`);
    const r = await run(DOCKER, ['build', '--tag', tag, floorCtx], {
      env: { ...process.env, DOCKER_BUILDKIT: buildx ? process.env.DOCKER_BUILDKIT ?? '1' : '0' },
      onLine: idCollector(),
    });
    if (r.code !== 0) throw new Error(`floor docker build exited ${r.code}: ${r.stderr.trim().slice(-1000)}`);
    createdTags.push(tag);
    floorBuilds.push(r.ms);
  }
  // The cheapest way to put the same bytes into an image here: create, `docker cp`, commit.
  const commits = [];
  for (let i = 0; i < 3; i++) {
    writeFileSync(join(SNAP, '.bench-nonce'), `${RUN}-commit${i}\n`);
    const tag = `rc-bench/floor-commit:${RUN}-${i}`;
    const t0 = performance.now();
    const cid = (await docker(['create', '--label', LABEL, BASE])).stdout.trim();
    await docker(['cp', SNAP, `${cid}:/opt/runtime-client`]);
    await docker(['commit', '--change', 'ENV RUNTIME_CLIENT_PORT=60000', cid, tag]);
    createdTags.push(tag);
    await docker(['rm', cid]);
    commits.push(performance.now() - t0);
  }
  const inspects = [];
  for (let i = 0; i < 6; i++) {
    const r = await docker(['image', 'inspect', BASE]);
    if (i > 0) inspects.push(r.ms);
  }

  // --- 1. suffix builds, each with a bundle the builder has not seen (nonce).
  log(`1. ${N_BUILD} forced suffix builds on ${BASE} (fresh nonce each: no layer cache)`);
  const builds = [];
  for (let i = 0; i < N_BUILD; i++) {
    const b = await cliBuild(BASE, `rc-bench/x:${RUN}-b${i}`, { force: true, nonce: `${RUN}-b${i}` });
    if (b.how !== 'built') throw new Error(`build --force said ${b.how}, not built`);
    if (b.cacheHits > 0) notes.push(`Build ${i} reused ${b.cacheHits} cached steps although its bundle bytes were new.`);
    builds.push(b);
  }
  const builtImage = builds[builds.length - 1].image;

  // --- 1b. forced rebuilds of the same bytes: every step from the builder's layer cache.
  log(`1b. ${N_WARM} forced rebuilds of the same bytes (layer cache warm)`);
  const warm = [];
  for (let i = 0; i < N_WARM; i++) warm.push(await cliBuild(BASE, `rc-bench/x:${RUN}-w${i}`, { force: true }));

  // --- 2. cached: the tag exists, no --force.
  log(`2. ${N_CACHED} second builds of the same pair (no --force)`);
  const cached = [];
  for (let i = 0; i < N_CACHED; i++) {
    const c = await cliBuild(BASE, builtImage, { force: false });
    if (c.image !== builtImage) throw new Error(`cached build printed ${c.image}, expected ${builtImage}`);
    cached.push(c);
  }

  // --- 3. sizes, all five bases.
  log('3. injected image size for all five bases');
  const sizes = [];
  for (const base of BASES) {
    const baseSize = await imageSize(base);
    let b;
    if (base === BASE) b = builds[builds.length - 1];
    else b = await cliBuild(base, `rc-bench/size-${base.replace(/^rc-test\//, '').replace(/:.*/, '')}:${RUN}`, { force: true, nonce: `${RUN}-sizes` });
    if (b.how !== 'built') throw new Error(`build on ${base} said ${b.how}`);
    sizes.push({ base, baseSize, injectedSize: await imageSize(b.image), buildMs: b.ms });
  }

  // --- 4. docker run to the first /alive 200: built image, mount mode, and the floors.
  log(`4. docker run to /alive 200: ${N_START} built + ${N_START} mount + ${N_START} \`docker run --rm true\`, interleaved (1 warm-up each)`);
  const mountArgsFor = async (port) => shellSplit((await check(process.execPath, [CLI, 'docker-args', '--base-image', BASE, '--port', String(port), '--bundle', SNAP])).stdout.trim());
  const mountSample = await mountArgsFor(60000);
  const startsBuilt = [];
  const startsMount = [];
  const runTrue = [];
  const warmups = {};
  for (let i = -1; i < N_START; i++) {
    {
      const port = await freePort();
      const c = await startTimed('built', ['-e', `RUNTIME_CLIENT_PORT=${port}`, builtImage], port);
      await removeContainer(c.name);
      if (i >= 0) startsBuilt.push(c);
      else warmups.built = c.aliveMs;
    }
    {
      const port = await freePort();
      const args = await mountArgsFor(port);
      const c = await startTimed('mount', args, port);
      await removeContainer(c.name);
      if (i >= 0) startsMount.push(c);
      else warmups.mount = c.aliveMs;
    }
    {
      const r = await docker(['run', '--rm', '--network', 'host', '--label', LABEL, BASE, 'true']);
      if (i >= 0) runTrue.push(r.ms);
      else warmups.runTrue = r.ms;
    }
  }

  // --- healthy (info: the health check interval is 5 s) and the `docker exec` floor.
  log('healthy: 2 built-image starts, 1 mount-mode start; docker exec floor on the last one');
  const healthyBuilt = [];
  let keep = null;
  for (let i = 0; i < 2; i++) {
    const port = await freePort();
    const c = await startTimed('healthy', ['-e', `RUNTIME_CLIENT_PORT=${port}`, builtImage], port);
    healthyBuilt.push({ alive: c.aliveMs, healthy: await waitHealthy(c) });
    if (keep) await removeContainer(keep.name);
    keep = c;
  }
  let healthyMount;
  {
    const port = await freePort();
    const c = await startTimed('mount-healthy', await mountArgsFor(port), port);
    healthyMount = { alive: c.aliveMs, healthy: await waitHealthy(c) };
    await removeContainer(c.name);
  }
  const execs = [];
  for (let i = 0; i < N_EXEC + 2; i++) {
    const r = await docker(['exec', keep.name, 'echo', 'hi']);
    if (r.stdout !== 'hi\n') throw new Error(`docker exec echo hi printed ${JSON.stringify(r.stdout)}`);
    if (i >= 2) execs.push(r.ms);
  }
  await removeContainer(keep.name);

  // ---------------------------------------------------------------- table
  const buildMs = builds.map((b) => b.ms);
  const cachedMs = cached.map((c) => c.ms);
  const warmMs = warm.map((w) => w.ms);
  const book = sizes.find((x) => x.base === BASE);
  const added = (x) => (x.injectedSize - x.baseSize) / MB;
  const aliveB = startsBuilt.map((c) => c.aliveMs);
  const aliveM = startsMount.map((c) => c.aliveMs);
  const startFloor = `\`docker run --rm true\` ${f(median(runTrue), 0)} / \`docker exec echo hi\` ${f(median(execs), 0)}`;
  const builder = builds[0].builder ?? '?';

  const rows = [
    [
      `suffix build on cached ${BASE}, \`build --force\`, new bundle layer, p50 of ${N_BUILD} (s)`,
      s(median(buildMs)),
      `create+cp+commit ${s(median(commits))} / \`docker build\` FROM+LABEL ${s(median(floorBuilds))}`,
      '<= 3',
      pass(median(buildMs) <= 3000),
    ],
    ['suffix build, max (s)', s(max(buildMs)), `builder: ${builder}`, '', ''],
    [`\`build --force\`, same bytes (layer cache warm), p50 of ${N_WARM} (s)`, s(median(warmMs)), '', '', ''],
    [
      `second build of the same pair (no --force: ${cached[0].how}), p50 of ${N_CACHED} (s)`,
      s(median(cachedMs)),
      `\`docker image inspect\` ${s(median(inspects), 3)}`,
      '<= 1',
      pass(median(cachedMs) <= 1000 && cached.every((c) => c.how === 'cached')),
    ],
    [
      `bytes added to ${BASE} (MB, injected - base image Size)`,
      f(added(book), 1),
      `\`du -sb\` bundle ${f(duSb / MB, 1)} / tar.gz ${f(tarBytes / MB, 1)}`,
      '<= 120',
      pass(added(book) <= 120),
    ],
    ...sizes
      .filter((x) => x.base !== BASE)
      .map((x) => [`bytes added to ${x.base} (MB)`, f(added(x), 1), `base ${f(x.baseSize / MB, 1)}`, '<= 120', pass(added(x) <= 120)]),
    [
      `\`docker run\` to first /alive 200, built image, p50 of ${N_START} (ms)`,
      f(median(aliveB), 0),
      startFloor,
      '<= 1000',
      pass(median(aliveB) <= 1000),
    ],
    [
      `\`docker run\` to first /alive 200, mount mode (docker-args), p50 of ${N_START} (ms)`,
      f(median(aliveM), 0),
      startFloor,
      '<= 1000',
      pass(median(aliveM) <= 1000),
    ],
    [
      '`docker run` to `healthy`, built image (s, info)',
      healthyBuilt.map((h) => s(h.healthy)).join(', '),
      'health check interval 5 s',
      '',
      '',
    ],
  ];
  const table = [
    '| metric | runtime-client | floor/baseline | target | pass? |',
    '|---|---|---|---|---|',
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ].join('\n');

  // Where a suffix build's time goes (medians over the timed builds), from when each progress
  // line arrived: before "Step 1" the CLI starts, inspects the base, links the context and the
  // docker CLI sends it; steps 2-3 copy the bundle into the scratch stage; step 5 copies it into
  // the final stage; 6-11 are metadata steps (a container created and committed each).
  const phase = (from, to) => median(builds.map((b) => (to === 'done' ? b.doneAt : b.at(to)) - (from === 0 ? 0 : b.at(from))));
  const phases = {
    'start + context upload': phase(0, 1),
    'scratch COPY (steps 2-3)': phase(2, 4),
    'COPY --from (step 5)': phase(5, 6),
    'metadata steps (6-11)': phase(6, 'done'),
    'tag + exit': median(builds.map((b) => b.ms - b.doneAt)),
  };
  notes.push(
    `Builder: ${builder}${buildx ? '' : ' (the docker CLI has no buildx, so the CLI sets DOCKER_BUILDKIT=0)'}; docker CLI ${info.ClientInfo?.Version ?? '?'}, engine ${info.ServerVersion}, storage driver ${info.Driver}. Build context sent: ${builds[0].context ?? '?'}.`,
    `Suffix build runs (s, wall, CLI spawn to exit): ${buildMs.map((x) => s(x)).join(', ')}; the CLI's own "built in" times: ${builds.map((b) => s(b.cliMs)).join(', ')}. Each run added a different .bench-nonce file to a snapshot of the bundle, so the builder's layer cache could not answer the COPY steps (a new bundle version behaves the same way); "Using cache" steps per run: ${builds.map((b) => b.cacheHits).join(', ')}.`,
    `Suffix build time by phase (median ms): ${Object.entries(phases).map(([k, v]) => `${k} ${f(v, 0)}`).join('; ')}.`,
    `Forced rebuilds of the same bytes (s): ${warmMs.map((x) => s(x)).join(', ')} (${warm.map((w) => w.cacheHits).join('/')} steps from the layer cache). Floors (s): \`docker create\` + \`docker cp\` of the bundle + \`docker commit\` ${commits.map((x) => s(x)).join(', ')}; \`docker build\` of \`FROM ${BASE}\` + one LABEL, no context ${floorBuilds.map((x) => s(x)).join(', ')}.`,
    `Second builds (s): ${cachedMs.map((x) => s(x, 3)).join(', ')}; the CLI said ${[...new Set(cached.map((c) => c.how))].join('/')}. They pass --tag (the timed image), so "already built" is the tag lookup; without --tag the derived tag is looked up the same way.`,
    `Sizes are \`docker image inspect --format {{.Size}}\`, MB = 10^6 bytes: ${sizes.map((x) => `${x.base} ${f(x.baseSize / MB, 1)} -> ${f(x.injectedSize / MB, 1)} (+${f(added(x), 2)}, build ${s(x.buildMs)} s)`).join('; ')}. Bundle: ${bundleFiles} files, ${f(bundleBytes / MB, 2)} MB of file data (\`du -sb\` ${duSb} bytes, digest ${snap.manifest.digest.slice(0, 16)}); dist/runtime-client.tar.gz ${tarBytes} bytes${tarDigest === snap.manifest.digest ? ' (same digest)' : `, WARNING: its manifest digest ${String(tarDigest).slice(0, 16)} differs from the bundle's`}. Mount mode adds 0 bytes to the image (the bundle is bind-mounted read-only).`,
    `Start runs (ms to first /alive 200, polled every ~5 ms with fetch from before spawning \`docker run -d\`): built ${aliveB.map((x) => f(x, 0)).join(', ')}; mount ${aliveM.map((x) => f(x, 0)).join(', ')}; warm-ups (not counted) built ${f(warmups.built, 0)}, mount ${f(warmups.mount, 0)}. \`docker run -d\` itself returned after (p50 ms): built ${f(median(startsBuilt.map((c) => c.detachedMs)), 0)}, mount ${f(median(startsMount.map((c) => c.detachedMs)), 0)}. Every container ran with \`--network host\`, a free port in RUNTIME_CLIENT_PORT and SESSION_API_KEY, and answered \`echo $RC_BENCH_NONCE\` (its own env) over /execute_action after the timing, so no other server on the port was measured.`,
    `Floors in the same run on ${BASE}: \`docker run --rm --network host ${BASE} true\` wall (ms) ${runTrue.map((x) => f(x, 0)).join(', ')}; \`docker exec <runtime-client container> echo hi\` wall (ms, n=${N_EXEC}) p50 ${f(median(execs), 0)}, max ${f(max(execs), 0)}.`,
    `Healthy (s from spawning \`docker run -d\`; Docker 20.10 runs the first probe one interval, 5 s, after start): built image ${healthyBuilt.map((h) => `${s(h.healthy)} (alive at ${s(h.alive)})`).join(', ')}; mount mode (shell-form --health-cmd) ${s(healthyMount.healthy)} (alive at ${s(healthyMount.alive)}).`,
    `Base images: ${imageLines.join('; ')}.`,
  );

  process.stdout.write(`\n${table}\n\n`);
  for (const n of notes) process.stdout.write(`- ${n}\n`);
  process.stdout.write(
    `\nCommand: \`npm run bench\` (this part: \`node bench/docker.mjs\`) | nproc ${os.availableParallelism?.() ?? os.cpus().length} | node ${process.version} | ${os.cpus()[0]?.model ?? ''} | ${os.platform()} ${os.release()} | docker engine ${info.ServerVersion} (${info.Driver}, cgroup v${info.CgroupVersion ?? '?'}) | load average at start ${load} | bench wall time ${f((performance.now() - started) / 1000, 1)} s\n`,
  );
}

// ---------------------------------------------------------------- entry

const info = await engineInfo();
if (info.error || !info.ServerVersion) {
  const msg = [
    '',
    '################################################################################',
    '#  Docker benchmark skipped: no engine; set one up with: bash scripts/docker-engine.sh',
    `#  (\`docker info\` failed: ${String(info.error ?? 'no server version').slice(0, 200)})`,
    '################################################################################',
    '',
  ].join('\n');
  process.stdout.write(msg + '\n');
  process.stderr.write(msg + '\n');
  process.exit(0);
}

let finishing = false;
async function finish(code) {
  if (finishing) return;
  finishing = true;
  stopping = true;
  log('cleaning up: containers, rc-bench images, scratch dir');
  const problems = await cleanup();
  if (problems.length) {
    process.stderr.write(`[bench:docker] ERROR: cleanup: ${problems.join('; ')}\n`);
    code = code || 1;
  } else if (code === 0) {
    process.stdout.write('Leftover containers and images after the run: none.\n');
  }
  process.exit(code);
}
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    process.stderr.write(`[bench:docker] ${sig}: stopping\n`);
    finish(130);
  });
}
// Armed once the prerequisites are there (a cold `npm run bundle` or image build may be slow).
let watchdog = null;
function armWatchdog() {
  watchdog = setTimeout(() => {
    process.stderr.write('[bench:docker] watchdog: the measurements took longer than 240 s\n');
    finish(1);
  }, 240_000);
  watchdog.unref();
}

let code = 0;
try {
  await main(info);
} catch (e) {
  // After an interrupt the steps under way fail because their processes were stopped: not news.
  if (!stopping) process.stderr.write(`[bench:docker] ERROR: ${e.stack ?? e}\n`);
  code = 1;
}
if (watchdog) clearTimeout(watchdog);
await finish(code);
