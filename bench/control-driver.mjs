#!/usr/bin/env node
// Benchmark of the control plane's Docker driver (control/docker/, dockerode over the engine's
// socket) against the docker CLI doing the same, in the same run, on the same engine and image:
// create -> running (the driver: create, start, inspect for the published port; the CLI:
// `docker run -d` alone, and with the `docker port` that reading the port back needs), create
// -> first /alive 200, inspect, and remove (`docker rm -f`). Runs alternate (driver, CLI, ...) so
// that drift in the engine hits both alike. Prints a markdown table of medians (and ranges).
//
// Run: `npm run build` (or `npx tsc -b control`), then `node bench/control-driver.mjs [runs]`
// (default 10). Needs the bundle (npm run bundle) and rc-test/bookworm:1 (test/images/build.sh
// bookworm). Every container it made (label rc-bench.control-driver=<run>) is removed at the end.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { docker as dockerCli } from './lib/docker.mjs';

const root = new URL('..', import.meta.url).pathname;
const DIST = join(root, 'control', 'dist', 'docker', 'index.js');
const BUNDLE = process.env.RUNTIME_CLIENT_BUNDLE ?? join(root, 'dist', 'runtime-client');
const IMAGE = 'rc-test/bookworm:1';
const RUNS = Number(process.argv[2] ?? 10);
const RUN = `${process.pid}-${randomBytes(3).toString('hex')}`;
const LABEL_KEY = 'rc-bench.control-driver';
const KEY = randomBytes(16).toString('hex');

if (!existsSync(DIST)) throw new Error(`${DIST} is missing: build first (npm run build, or npx tsc -b control)`);
if (!existsSync(join(BUNDLE, 'manifest.json'))) throw new Error(`no bundle at ${BUNDLE}: npm run bundle`);
const { DockerDriver } = await import(DIST);

/** Runs the docker CLI; resolves with its stdout. The key reaches it through the environment, never argv. */
const docker = (args) => dockerCli(args, { ...process.env, SESSION_API_KEY: KEY });

/** The same container as the driver makes, as `docker run -d` arguments. */
const runArgs = (name) => [
  'run', '-d', '--name', name, '--label', `${LABEL_KEY}=${RUN}`,
  '--volume', `${BUNDLE}:/opt/runtime-client:ro`,
  '--entrypoint', '/opt/runtime-client/bin/tini',
  '--env', 'RUNTIME_CLIENT_PORT=60000', '--env', 'SESSION_API_KEY',
  '--publish', '127.0.0.1::60000',
  '--cpus', '1', '--memory', '512m', '--memory-swap', '512m', '--pids-limit', '256',
  IMAGE, '--', '/opt/runtime-client/bin/runtime-client',
];

async function waitAlive(url) {
  for (;;) {
    // A ref'd timer, not AbortSignal.timeout (unref'd): a fetch that hangs on a socket the
    // engine's port proxy accepted before the server listened would otherwise let node exit (13).
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), 1000);
    try {
      const res = await fetch(`${url}/alive`, { signal: controller.signal });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    } finally {
      clearTimeout(timer);
    }
    await sleep(5);
  }
}

const driver = new DockerDriver({ bundleDir: BUNDLE });
await driver.ping();
const samples = {};
const record = (name, ms) => (samples[name] ??= []).push(ms);
let n = 0;
const spec = () => ({
  runtimeId: `bench-${RUN}-${++n}`, sessionId: `s${n}`, image: IMAGE, env: {}, apiKey: KEY,
  cpus: 1, memoryMb: 512, pidsLimit: 256, labels: { [LABEL_KEY]: RUN },
});

async function viaDriver() {
  let t = performance.now();
  const state = await driver.create(spec());
  record('create -> running (url known) | driver', performance.now() - t);
  await waitAlive(state.url);
  record('create -> /alive 200 | driver', performance.now() - t);
  t = performance.now();
  await driver.inspect(state.id);
  record('inspect | driver', performance.now() - t);
  t = performance.now();
  await driver.remove(state.id);
  record('remove (running) | driver', performance.now() - t);
}

async function viaCli() {
  const name = `rc-bench-cli-${RUN}-${++n}`;
  let t = performance.now();
  const id = await docker(runArgs(name));
  record('create -> running | CLI run -d', performance.now() - t);
  const port = (await docker(['port', id, '60000/tcp'])).split('\n')[0].split(':').pop();
  record('create -> running (url known) | CLI run -d + port', performance.now() - t);
  await waitAlive(`http://127.0.0.1:${port}`);
  record('create -> /alive 200 | CLI', performance.now() - t);
  t = performance.now();
  await docker(['inspect', id]);
  record('inspect | CLI', performance.now() - t);
  t = performance.now();
  await docker(['rm', '-f', id]);
  record('remove (running) | CLI rm -f', performance.now() - t);
}

try {
  // One of each first, unrecorded: page cache, image layers, the CLI binary.
  await viaDriver();
  await viaCli();
  for (const name of Object.keys(samples)) delete samples[name];
  for (let i = 0; i < RUNS; i++) {
    if (i % 2 === 0) {
      await viaDriver();
      await viaCli();
    } else {
      await viaCli();
      await viaDriver();
    }
  }
} finally {
  for (const s of await driver.list({ [LABEL_KEY]: RUN })) await driver.remove(s.id);
  await driver.close();
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const f = (ms) => ms.toFixed(1);
console.log(`\nDocker driver vs docker CLI: ${RUNS} runs each, alternating, ${IMAGE}, mount mode, ${new Date().toISOString()}\n`);
console.log('| measure | p50 ms | min-max ms |');
console.log('|---|---:|---:|');
const order = ['create -> running (url known) | driver', 'create -> running | CLI run -d', 'create -> running (url known) | CLI run -d + port', 'create -> /alive 200 | driver', 'create -> /alive 200 | CLI', 'inspect | driver', 'inspect | CLI', 'remove (running) | driver', 'remove (running) | CLI rm -f'];
for (const name of order) {
  const xs = samples[name];
  console.log(`| ${name} | ${f(median(xs))} | ${f(Math.min(...xs))}-${f(Math.max(...xs))} |`);
}
