#!/usr/bin/env node
// Benchmark of the runtime API's proxy (/r/{runtime_id}/..., control/http/proxy.ts) against the
// runtime's direct URL, in the same run, on the same runtime: `echo hi` (POST /execute_action)
// over a keep-alive connection, requests alternating proxy / direct so that drift hits both
// alike. Prints p50 and p90 of each and the proxy's cost (p50 proxy - p50 direct; target <= 0.3 ms).
// The proxy reaches the container at its bridge address (control/http/docker-route.ts), as the
// service does; the direct URL is the published port (through the engine's docker-proxy). A third
// path, a bare node:http forwarder to the same bridge address (keep-alive agent, pipe both ways, no
// checks, no touch, no metrics) in the same service process, shows what any forwarder on
// node:http costs here: the proxy's own work is the difference between it and the proxy.
//
// The service runs in a child process of its own (this script with --serve), as `runtime-client
// api` would: the real Docker driver and lifecycle in a scratch state dir, on 127.0.0.1. The
// measuring client is this process.
//
// Run: `npm run build` (or `npx tsc -b control`), then `node bench/control-proxy.mjs [requests]`
// (default 2000 of each). Needs the bundle (npm run bundle) and rc-test/bookworm:1
// (test/images/build.sh bookworm). The runtime is stopped (its container removed) at the end.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { echoPaths, q } from './lib/echo.mjs';
import { startForwarder } from './lib/forwarder.mjs';

const root = new URL('..', import.meta.url).pathname;
const DIST = join(root, 'control', 'dist');
const IMAGE = 'rc-test/bookworm:1';

if (!existsSync(join(DIST, 'http', 'server.js'))) throw new Error(`${DIST}/http/server.js is missing: build first (npm run build, or npx tsc -b control)`);

if (process.argv[2] === '--serve') await serve(process.argv[3], process.argv[4]);
else await measure(Number(process.argv[2] ?? 2000));

/** The service: prints its URL once it listens; stops on SIGTERM (the runtime is stopped by the parent first). */
async function serve(key, stateDir) {
  const { default: pino } = await import('pino');
  const { DockerDriver } = await import(join(DIST, 'docker', 'index.js'));
  const { openLifecycle } = await import(join(DIST, 'lifecycle', 'lifecycle.js'));
  const { startApiServer } = await import(join(DIST, 'http', 'server.js'));
  const { dockerBridgeRoute } = await import(join(DIST, 'http', 'docker-route.js'));
  const log = pino({ level: 'warn' });
  const driver = new DockerDriver();
  const opts = { defaultTtl: 3600, maxTtl: 3600, idleTimeout: 3600, pausedTtl: 3600, maxRuntimes: 2, baseCpus: 1, baseMemoryMb: 1024, maxCpus: 2, maxMemoryMb: 4096, warm: {}, stateDir };
  const lifecycle = await openLifecycle(driver, opts, { logger: log });
  // As `runtime-client api` runs it: the proxy reaches containers over the bridge when it can.
  const route = dockerBridgeRoute(driver);
  const api = await startApiServer({ lifecycle, driver, log, version: 'bench', port: 0, apiKey: key, route });
  // The direct URL is the service's to know; the bench asks for it on stdin-less IPC: one line.
  const ask = createInterface({ input: process.stdin });
  ask.on('line', async (runtimeId) => {
    const record = lifecycle.get(runtimeId);
    const directUrl = record?.directUrl ?? null;
    const bareUrl = directUrl && (await startForwarder((await route(record)) ?? directUrl));
    process.stdout.write(JSON.stringify({ directUrl, bareUrl }) + '\n');
  });
  process.stdout.write(JSON.stringify({ url: api.url }) + '\n');
  process.once('SIGTERM', async () => {
    await api.close();
    await lifecycle.close();
    await driver.close();
    process.exit(0);
  });
}

async function measure(n) {
  const key = randomBytes(16).toString('hex');
  const stateDir = mkdtempSync(join(tmpdir(), 'rc-bench-proxy-'));
  const child = spawn(process.execPath, [new URL(import.meta.url).pathname, '--serve', key, stateDir], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const nextLine = () => new Promise((resolve) => lines.once('line', (l) => resolve(JSON.parse(l))));
  const { url } = await nextLine();
  const headers = { 'x-api-key': key, 'content-type': 'application/json' };
  let runtimeId;
  try {
    const started = await (await fetch(`${url}/start`, { method: 'POST', headers, body: JSON.stringify({ image: IMAGE, session_id: `bench-proxy-${process.pid}` }) })).json();
    if (!started.runtime_id) throw new Error(`/start failed: ${JSON.stringify(started)}`);
    runtimeId = started.runtime_id;
    child.stdin.write(runtimeId + '\n');
    const { directUrl, bareUrl } = await nextLine();

    const [direct, bare, proxied] = await echoPaths(started.session_api_key, [directUrl, bareUrl, started.url], n);
    const cost = q(proxied, 0.5) - q(direct, 0.5);
    console.log(`\`echo hi\` (POST /execute_action), ${n} requests each, alternating, keep-alive\n`);
    console.log('| path | p50 | p90 |');
    console.log('|---|---|---|');
    console.log(`| direct URL (floor) | ${q(direct, 0.5).toFixed(3)} ms | ${q(direct, 0.9).toFixed(3)} ms |`);
    console.log(`| a bare node:http forwarder | ${q(bare, 0.5).toFixed(3)} ms | ${q(bare, 0.9).toFixed(3)} ms |`);
    console.log(`| through the proxy (/r/{id}) | ${q(proxied, 0.5).toFixed(3)} ms | ${q(proxied, 0.9).toFixed(3)} ms |`);
    console.log(`| bare forwarder cost (p50 - p50) | ${(q(bare, 0.5) - q(direct, 0.5)).toFixed(3)} ms | |`);
    console.log(`| proxy cost (p50 - p50) | ${cost.toFixed(3)} ms | target <= 0.3 ms: ${cost <= 0.3 ? 'PASS' : 'FAIL'} |`);
  } finally {
    if (runtimeId) await fetch(`${url}/stop`, { method: 'POST', headers, body: JSON.stringify({ runtime_id: runtimeId }) }).catch(() => {});
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
    rmSync(stateDir, { recursive: true, force: true });
  }
}
