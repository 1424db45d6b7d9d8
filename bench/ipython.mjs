#!/usr/bin/env node
// Benchmark of run_ipython against what a user would otherwise do, measured in the same run:
//   - a `1+1` cell round trip over HTTP (keep-alive), next to spawning `python3 -c '1+1'` per call;
//   - a cell printing 10 MB (one print, and 100,000 lines of 100 bytes), next to the same code
//     run by a bare `python3` that reads it from a pipe and writes to a pipe.
// The python is the machine's own: PYTHON (default: python3 on PATH; the server finds the same
// one through its session's bash). Prints a markdown table; a missed target says FAIL in it, and
// the exit status is non-zero only on a real error.
//
//   node bench/ipython.mjs          (`npm run bench` runs it)
//   PYTHON=/usr/bin/python3 node bench/ipython.mjs     (plain mode, without IPython)
import http from 'node:http';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';

const root = new URL('..', import.meta.url).pathname;
const CLI = join(root, 'dist', 'runtime-client.mjs');
const KEY = randomBytes(16).toString('hex');
const PYTHON = process.env.PYTHON || resolvePython();
const ROUNDS = Number(process.env.BENCH_ROUNDS || 300);
const SPAWNS = Number(process.env.BENCH_SPAWNS || 60);
const TEN_MB = 10_000_000;
/** Paired runs of each print (cell, bare, bare start-up). */
const PAIRS = Number(process.env.BENCH_PAIRS || 9);

const BIG_PRINT = `import sys\nsys.stdout.write("x" * ${TEN_MB})`;
const LINES = `for i in range(100000):\n    print("y" * 99)`;

const scratch = mkdtempSync(join(tmpdir(), 'rc-bench-ipy-'));
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function resolvePython() {
  const found = spawnSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' });
  if (found.status !== 0) throw new Error('no python3 on PATH: set PYTHON');
  return found.stdout.trim();
}

function post(port, body) {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = http.request(
      { host: '127.0.0.1', port, path: '/execute_action', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), 'x-session-api-key': KEY } },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode}: ${text.slice(0, 300)}`));
          else resolve(JSON.parse(text));
        });
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

async function cell(port, code) {
  const obs = await post(port, { action: { action: 'run_ipython', args: { code, include_extra: false, blocking: true } } });
  if (obs.observation !== 'run_ipython' || obs.meta?.still_running) throw new Error(`unexpected observation: ${JSON.stringify(obs).slice(0, 300)}`);
  return obs;
}

async function startServer() {
  // The interpreter the server picks is the python its session's bash finds first.
  const env = { ...process.env, SESSION_API_KEY: KEY, HOME: scratch, PATH: `${dirname(PYTHON)}:${process.env.PATH}` };
  const proc = spawn(process.execPath, [CLI, '--port', '0', '--host', '127.0.0.1', '--working-dir', scratch], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve, reject) => {
    let buf = '';
    proc.stdout.on('data', (c) => {
      buf += c;
      const m = /"port":(\d+)/.exec(buf);
      if (m) resolve(Number(m[1]));
    });
    proc.on('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
  proc.stdout.resume();
  for (;;) {
    const ok = await new Promise((resolve) => http.get({ host: '127.0.0.1', port, path: '/alive' }, (r) => (r.resume(), resolve(r.statusCode === 200))).on('error', () => resolve(false)));
    if (ok) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return { port, stop: () => new Promise((resolve) => (proc.once('exit', resolve), proc.kill('SIGTERM'))) };
}

/** Runs `code` in a fresh python that reads it from a pipe and writes to one; returns [ms, bytes]. */
function bare(code) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    // Python's defaults (block-buffered stdout), whatever this shell exported (PYTHONUNBUFFERED).
    const env = { ...process.env };
    delete env.PYTHONUNBUFFERED;
    const child = spawn(PYTHON, ['-'], { stdio: ['pipe', 'pipe', 'inherit'], env });
    let bytes = 0;
    child.stdout.on('data', (c) => (bytes += c.length));
    child.on('error', reject);
    child.on('close', (status) => (status === 0 ? resolve([performance.now() - started, bytes]) : reject(new Error(`python exited ${status}`))));
    child.stdin.end(code);
  });
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const median = (xs) => pct(xs, 50);
const f = (x, d = 2) => x.toFixed(d);

async function main() {
  const server = await startServer();
  try {
    const first = await cell(server.port, 'import sys; sys.executable');
    const rows = [];
    // Warm up both sides.
    for (let i = 0; i < 20; i++) await cell(server.port, '1+1');
    const cellMs = [];
    for (let i = 0; i < ROUNDS; i++) {
      const t = performance.now();
      const obs = await cell(server.port, '1+1');
      cellMs.push(performance.now() - t);
      if (obs.content !== '2') throw new Error(`1+1 gave ${JSON.stringify(obs.content)}`);
    }
    const spawnMs = [];
    for (let i = 0; i < SPAWNS; i++) {
      const t = performance.now();
      const r = spawnSync(PYTHON, ['-c', '1+1']);
      spawnMs.push(performance.now() - t);
      if (r.status !== 0) throw new Error('python3 -c failed');
    }
    const p50 = median(cellMs);
    rows.push(['`1+1` cell round trip, p50', `${f(p50)} ms (p90 ${f(pct(cellMs, 90))})`, '<= 5 ms', `\`python3 -c '1+1'\` spawned: ${f(median(spawnMs), 1)} ms`, p50 <= 5 ? 'ok' : 'FAIL']);

    for (const [name, code] of [['one 10 MB print', BIG_PRINT], ['100,000 lines of 100 bytes', LINES]]) {
      // Each cell run is paired with a bare run and its start-up floor, back to back: these
      // machines are noisy, so only runs made side by side compare.
      const cellRuns = [];
      const bareRuns = [];
      const ratios = [];
      for (let i = 0; i < PAIRS; i++) {
        const t = performance.now();
        const obs = await cell(server.port, code);
        const cellT = performance.now() - t;
        if (!obs.meta?.full_output_path) throw new Error(`${name}: no full output file: ${obs.content.slice(0, 200)}`);
        const [ms, bytes] = await bare(code);
        if (bytes < TEN_MB) throw new Error(`${name}: bare python printed ${bytes} bytes`);
        const [floor] = await bare('pass');
        // The bare run includes the interpreter's start: the floor (`pass`) is taken off.
        const bareT = Math.max(0.1, ms - floor);
        cellRuns.push(cellT);
        bareRuns.push(bareT);
        ratios.push(bareT / cellT);
      }
      const ratio = median(ratios);
      const range = `${f(Math.min(...ratios) * 100, 0)}-${f(Math.max(...ratios) * 100, 0)}`;
      rows.push([
        `cell printing 10 MB (${name})`,
        `${f(median(cellRuns), 0)} ms = ${f(TEN_MB / 1e6 / (median(cellRuns) / 1000), 0)} MB/s`,
        '>= 50% of bare',
        `bare python3 to a pipe, start-up taken off: ${f(median(bareRuns), 0)} ms = ${f(TEN_MB / 1e6 / (median(bareRuns) / 1000), 0)} MB/s`,
        `${f(ratio * 100, 0)}% (${range}) ${ratio >= 0.5 ? 'ok' : 'FAIL'}`,
      ]);
    }
    console.log(`\nrun_ipython (${first.meta.python}; ${ROUNDS} cells, ${SPAWNS} spawns, ${PAIRS} paired runs of each print; result: median ratio (range))\n`);
    console.log('| measure | runtime-client | target | floor (same run) | result |');
    console.log('|---|---|---|---|---|');
    for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  } finally {
    await server.stop();
    agent.destroy();
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
