#!/usr/bin/env node
// Benchmark of the runtime-client server against floors measured in the same run on the same
// machine: raw node-pty bash, per-call `bash -c`, a bare node process. Run with `npm run bench`.
//
// Every server runs with a fresh, empty HOME (mkdtemp) so the machine's own ~/.bashrc (which may
// run slow things like `pyenv init` at each prompt) is not part of what is measured.
// Prints a markdown table; exits 0 even when a target is missed (FAIL in the table), non-zero on
// a real error (a server that does not start, a wrong answer, a timeout).
//
//   node bench/server.mjs              every row (`npm run bench` runs this)
//   node bench/server.mjs --idle-rss   only the idle RSS row, against a bare node (a few seconds)
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';

const require = createRequire(import.meta.url);
const root = new URL('..', import.meta.url).pathname;
const pty = require('node-pty');
const WebSocket = require('ws');

const CLI = join(root, 'dist', 'runtime-client.mjs');
const IDLE_RSS_ONLY = process.argv.includes('--idle-rss');
/** The most a server may hold once idle, in MB (issue 11: each sandbox pays it). */
const IDLE_RSS_TARGET_MB = 50;
// The node flags the CLI's shebang and `npm start` run it with.
const NODE_FLAGS = ['--max-semi-space-size=2'];
const KEY = randomBytes(16).toString('hex');
/** Put in the env of everything this bench starts, to find leftovers at the end. */
const TAG = `RC_BENCH_TAG=${process.pid}-${randomBytes(4).toString('hex')}`;
const SCRATCH = mkdtempSync(join(os.tmpdir(), 'rc-bench-'));
const HOME = join(SCRATCH, 'home');
const WORK = join(SCRATCH, 'work');
mkdirSync(HOME);
mkdirSync(WORK);

const ENV = {
  ...process.env,
  HOME,
  SESSION_API_KEY: KEY,
  [TAG.split('=')[0]]: TAG.split('=')[1],
};
delete ENV.NO_CHANGE_TIMEOUT_SECONDS;
delete ENV.MAX_OUTPUT_CHARS;
/** The env of the floor bash processes: same as the server's shells get (minus the key). */
const FLOOR_ENV = { ...ENV, TERM: 'xterm-256color', LANG: ENV.LANG || 'C.UTF-8' };
delete FLOOR_ENV.SESSION_API_KEY;

const children = new Set(); // child_process handles and pty handles still alive
const MB = 1e6;

// ---------------------------------------------------------------- helpers

function log(msg) {
  process.stderr.write(`[bench] ${msg}\n`);
}

function pct(values, p) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}
const median = (v) => pct(v, 50);

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

function rssKb(pid, field = 'VmRSS') {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no ${field} for pid ${pid}`);
  return Number(m[1]);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Resolves when `child` has exited (at once if it already has). */
function exited(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function stopChild(child, what) {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  try {
    await withTimeout(exited(child), 6000, `${what} exiting after SIGTERM`);
  } catch (e) {
    child.kill('SIGKILL');
    await exited(child);
    throw e;
  }
}

/** GET /alive once: resolves with the status, or null when nothing listens yet. */
function aliveOnce(port) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/alive', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve(null));
    req.setTimeout(1000, () => req.destroy());
  });
}

/** Starts a server; resolves once /alive answers 200. */
async function startServer(port = 0) {
  const child = track(
    spawn(process.execPath, [...NODE_FLAGS, CLI, '--host', '127.0.0.1', '--port', String(port), '--working-dir', WORK], {
      cwd: WORK,
      env: ENV,
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  const lines = [];
  let listening;
  const portKnown = new Promise((resolve, reject) => {
    listening = resolve;
    child.once('exit', (code, sig) =>
      reject(new Error(`server exited (${code ?? sig}) before listening:\n${lines.slice(-20).join('\n')}`)),
    );
  });
  portKnown.catch(() => {});
  let buf = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) !== -1) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (lines.length < 200) lines.push(line);
      try {
        const j = JSON.parse(line);
        if (j.msg === 'listening') listening(j.port);
      } catch {
        // not JSON
      }
    }
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => lines.length < 200 && lines.push(d.trimEnd()));
  const actualPort = await withTimeout(portKnown, 15000, 'server start');
  const deadline = Date.now() + 15000;
  for (;;) {
    const status = await aliveOnce(actualPort);
    if (status === 200) break;
    if (child.exitCode !== null) throw new Error(`server exited:\n${lines.join('\n')}`);
    if (Date.now() > deadline) throw new Error(`server /alive not 200 within 15 s (last ${status})`);
    await sleep(5);
  }
  return { child, port: actualPort, pid: child.pid, lines };
}

// ---------------------------------------------------------------- clients

function httpClient(port) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  return {
    agent,
    execute(action) {
      const body = JSON.stringify({ action });
      return new Promise((resolve, reject) => {
        const req = http.request(
          {
            host: '127.0.0.1',
            port,
            path: '/execute_action',
            method: 'POST',
            agent,
            headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-session-api-key': KEY },
          },
          (res) => {
            const parts = [];
            res.on('data', (c) => parts.push(c));
            res.on('end', () => {
              const text = Buffer.concat(parts).toString('utf8');
              if (res.statusCode !== 200) return reject(new Error(`HTTP ${res.statusCode}: ${text.slice(0, 300)}`));
              try {
                resolve(JSON.parse(text));
              } catch (e) {
                reject(e);
              }
            });
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    },
    close() {
      agent.destroy();
    },
  };
}

async function wsClient(port) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { 'x-session-api-key': KEY }, perMessageDeflate: false });
  await withTimeout(
    new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    }),
    5000,
    'websocket open',
  );
  const waiting = new Map(); // id -> { onOutputBytes, resolve, reject }
  let seq = 0;
  const OUTPUT_PREFIX = Buffer.from('{"type":"output"');
  ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    // Output frames: counted either by decoding the data field (exact bytes), or in `fast` mode
    // by the frame's size alone (no parse, so a slow client does not throttle the server).
    const isOutput = data.length >= OUTPUT_PREFIX.length && data.subarray(0, OUTPUT_PREFIX.length).equals(OUTPUT_PREFIX);
    if (isOutput && waiting.size === 1) {
      const [w] = waiting.values();
      if (w.fast) {
        w.frameBytes += data.length;
        w.frames++;
        return;
      }
    }
    const frame = JSON.parse(data.toString('utf8'));
    const w = waiting.get(frame.id);
    if (frame.type === 'output') {
      if (w) {
        w.dataBytes += Buffer.byteLength(frame.data, 'utf8');
        w.frameBytes += data.length;
        w.frames++;
        if (frame.seq !== w.nextSeq) w.reject(new Error(`output seq ${frame.seq}, expected ${w.nextSeq}`));
        w.nextSeq++;
      }
    } else if (frame.type === 'observation') {
      if (w) {
        waiting.delete(frame.id);
        w.resolve({ observation: frame.observation, dataBytes: w.dataBytes, frameBytes: w.frameBytes, frames: w.frames });
      }
    } else if (frame.type === 'error') {
      const err = new Error(`ws error frame: ${JSON.stringify(frame.error)}`);
      if (w) {
        waiting.delete(frame.id);
        w.reject(err);
      } else for (const x of waiting.values()) x.reject(err);
    }
  });
  ws.on('close', () => {
    for (const w of waiting.values()) w.reject(new Error('websocket closed'));
    waiting.clear();
  });
  return {
    ws,
    execute(action, { fast = false } = {}) {
      const id = `b${process.pid}-${++seq}-${Date.now()}`;
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject, fast, dataBytes: 0, frameBytes: 0, frames: 0, nextSeq: 0 });
        ws.send(JSON.stringify({ type: 'execute', id, action }));
      });
    },
    close() {
      ws.close();
    },
  };
}

const runAction = (command, extra = {}) => ({ action: 'run', args: { command, ...extra } });

function checkEcho(obs) {
  if (obs.observation !== 'run' || obs.content.trim() !== 'hi' || obs.extras?.metadata?.exit_code !== 0) {
    throw new Error(`unexpected observation for echo hi: ${JSON.stringify(obs).slice(0, 400)}`);
  }
}

// ---------------------------------------------------------------- floors

/** A raw node-pty interactive bash: `echo hi` plus a marker, until the marker comes back. */
async function ptyRoundTripFloor(warmup, iterations) {
  const term = pty.spawn('bash', ['--noprofile', '--norc'], { name: 'xterm-256color', cols: 200, rows: 50, cwd: WORK, env: FLOOR_ENV });
  children.add(term);
  let out = '';
  let want = null;
  let done = null;
  term.onData((d) => {
    out += d;
    if (want && out.includes(want)) {
      want = null;
      done();
    }
  });
  // Wait for the first prompt to settle.
  await sleep(300);
  const times = [];
  for (let i = 0; i < warmup + iterations; i++) {
    out = '';
    // The echoed command line holds __M"i"__; only the real output holds __Mi__.
    const marker = `__M${i}__`;
    const p = new Promise((resolve) => (done = resolve));
    want = marker;
    const t0 = performance.now();
    term.write(`echo hi; echo __M"${i}"__\r`);
    await withTimeout(p, 5000, 'raw pty round trip');
    if (i >= warmup) times.push(performance.now() - t0);
  }
  term.kill('SIGKILL');
  children.delete(term);
  return times;
}

/** `bash -c 'echo hi'` spawned per call. */
async function execFileFloor(warmup, iterations) {
  const times = [];
  for (let i = 0; i < warmup + iterations; i++) {
    const t0 = performance.now();
    const out = await new Promise((resolve, reject) =>
      execFile('bash', ['-c', 'echo hi'], { env: FLOOR_ENV }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
    );
    if (out !== 'hi\n') throw new Error(`bash -c echo hi printed ${JSON.stringify(out)}`);
    if (i >= warmup) times.push(performance.now() - t0);
  }
  return times;
}

/** Raw node-pty `bash -c <command>` read until exit: bytes and seconds. */
async function ptyThroughputFloor(command) {
  const t0 = performance.now();
  const term = pty.spawn('bash', ['--noprofile', '--norc', '-c', command], { name: 'xterm-256color', cols: 200, rows: 50, cwd: WORK, env: FLOOR_ENV });
  children.add(term);
  let bytes = 0;
  let last = t0;
  term.onData((d) => {
    bytes += Buffer.byteLength(d, 'utf8');
    last = performance.now();
  });
  const exitAt = await withTimeout(new Promise((resolve) => term.onExit(() => resolve(performance.now()))), 60000, 'raw pty throughput');
  await sleep(50); // data still queued after the exit event
  children.delete(term);
  return { bytes, seconds: (Math.max(last, exitAt) - t0) / 1000 };
}

/** Idle RSS of a bare node process (kB). */
async function bareNodeRss() {
  return (await bareNodeMemory()).rss;
}

/**
 * A process's resident memory, kB: all of it, and its two parts. RssFile is pages of files (the
 * node executable, libraries), which every process running the same file shares, so on a host of
 * sandboxes (the bundle mounted read-only from one place) each pays about RssAnon.
 */
function memoryOf(pid) {
  return { rss: rssKb(pid), anon: rssKb(pid, 'RssAnon'), file: rssKb(pid, 'RssFile') };
}

async function bareNodeMemory() {
  const child = track(spawn(process.execPath, ['-e', 'setInterval(()=>{},1000)'], { env: ENV, stdio: 'ignore' }));
  await sleep(1000);
  const memory = memoryOf(child.pid);
  await stopChild(child, 'bare node');
  return memory;
}

/** Start-up floor: a bare node http server answering /alive, polled the same way. */
async function bareNodeStart(port) {
  const code = `require('http').createServer((q,s)=>s.end('ok')).listen(${port},'127.0.0.1')`;
  const t0 = performance.now();
  const child = track(spawn(process.execPath, ['-e', code], { env: ENV, stdio: 'ignore' }));
  await pollAlive(port, child, t0);
  const ms = performance.now() - t0;
  await stopChild(child, 'bare node http');
  return ms;
}

async function pollAlive(port, child, t0) {
  for (;;) {
    const status = await aliveOnce(port);
    if (status === 200) return;
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`process exited before /alive answered 200`);
    if (performance.now() - t0 > 20000) throw new Error('/alive did not answer 200 within 20 s');
    await sleep(2);
  }
}

/** Process start to the first /alive 200. */
async function serverStart() {
  const port = await freePort();
  const t0 = performance.now();
  const child = track(
    spawn(process.execPath, [...NODE_FLAGS, CLI, '--host', '127.0.0.1', '--port', String(port), '--working-dir', WORK], {
      cwd: WORK,
      env: ENV,
      stdio: ['ignore', 'ignore', 'pipe'],
    }),
  );
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  try {
    await pollAlive(port, child, t0);
  } catch (e) {
    throw new Error(`${e.message}\n${err}`);
  }
  const ms = performance.now() - t0;
  await stopChild(child, 'server');
  return ms;
}

// ---------------------------------------------------------------- leftovers

/** Pids (other than this one) whose environment carries this run's tag. */
function taggedPids() {
  const pids = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/environ`, 'latin1').split('\0').includes(TAG)) pids.push(Number(name));
    } catch {
      // gone or not ours
    }
  }
  return pids;
}

async function cleanup() {
  for (const c of children) {
    try {
      c.kill('SIGTERM');
    } catch {
      // gone
    }
  }
  await sleep(children.size ? 500 : 0);
  for (const c of children) {
    try {
      c.kill('SIGKILL');
    } catch {
      // gone
    }
  }
  // Processes that exit on their own (shells of a server that just stopped) get a moment.
  let left = taggedPids();
  for (let i = 0; i < 20 && left.length; i++) {
    await sleep(100);
    left = taggedPids();
  }
  for (const pid of left) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  rmSync(SCRATCH, { recursive: true, force: true });
  return left;
}

// ---------------------------------------------------------------- idle RSS

/**
 * A bare node's RSS, then a fresh server's once idle: 5 actions over /ws and 5 over HTTP (the
 * start-up a sandbox goes through), then 1 s of nothing. Sets r.bareRss and r.idleRss (kB);
 * returns the server and its open /ws client.
 */
async function idleServer(r) {
  r.bare = await bareNodeMemory();
  r.bareRss = r.bare.rss;
  const b = await startServer();
  const wb = await wsClient(b.port);
  for (let i = 0; i < 5; i++) checkEcho((await wb.execute(runAction('echo hi'))).observation);
  const hb = httpClient(b.port);
  for (let i = 0; i < 5; i++) checkEcho(await hb.execute(runAction('echo hi')));
  hb.close();
  await sleep(1000);
  r.idle = memoryOf(b.pid);
  r.idleRss = r.idle.rss;
  return { b, wb };
}

/** RSS split into anonymous and file pages, server and bare node. */
function idleRssNote(r) {
  const mb = (kb) => (kb / 1024).toFixed(1);
  return `Idle RSS split: server ${mb(r.idle.anon)} MB anonymous (its own) + ${mb(r.idle.file)} MB file pages (node and its libraries, shared by every process running the same executable); bare node ${mb(r.bare.anon)} + ${mb(r.bare.file)}.`;
}

function idleRssRow(r) {
  const mb = r.idleRss / 1024;
  return ['server idle RSS (MB)', mb.toFixed(1), `bare node ${(r.bareRss / 1024).toFixed(1)}`, `<= ${IDLE_RSS_TARGET_MB}`, mb <= IDLE_RSS_TARGET_MB ? 'PASS' : 'FAIL'];
}

/** `--idle-rss`: the idle RSS row alone. */
async function idleOnly() {
  const r = {};
  log('idle RSS: a bare node, then a server after 10 actions and 1 s idle');
  const { b, wb } = await idleServer(r);
  wb.close();
  await stopChild(b.child, 'server');
  process.stdout.write(`\n| metric | runtime-client | floor/baseline | target | pass? |\n|---|---|---|---|---|\n| ${idleRssRow(r).join(' | ')} |\n\n- ${idleRssNote(r)}\n\n`);
  process.stdout.write(`Command: \`node bench/server.mjs --idle-rss\` (${CLI} run as \`node ${NODE_FLAGS.join(' ')}\`) | node ${process.version} | ${os.platform()} ${os.release()}\n`);
}

// ---------------------------------------------------------------- main

async function main() {
  if (IDLE_RSS_ONLY) return idleOnly();
  const started = performance.now();
  const r = {};
  const notes = [];

  // --- 3. start-up
  log('start-up: 5 server starts, 5 bare node http starts');
  await serverStart(); // warm the page cache; not counted
  const starts = [];
  for (let i = 0; i < 5; i++) starts.push(await serverStart());
  const bareStarts = [];
  for (let i = 0; i < 5; i++) bareStarts.push(await bareNodeStart(await freePort()));
  r.start = median(starts);
  r.bareStart = median(bareStarts);

  // --- floors for 1 and 2
  log('floors: raw node-pty bash round trip, bash -c per call');
  r.ptyRt = await ptyRoundTripFloor(30, 300);
  r.execFile = await execFileFloor(10, 100);

  // --- 1, 2, 4 on one server
  log('server A: HTTP and WS latency, streaming throughput');
  const a = await startServer();
  const hc = httpClient(a.port);
  {
    const obs = await hc.execute(runAction('echo "$HOME"'));
    r.sessionHome = obs.content.trim();
    if (r.sessionHome !== HOME) log(`WARNING: the session's HOME is ${r.sessionHome}, not the fresh ${HOME}: its ~/.bashrc is part of the measurement`);
  }
  const httpTimes = [];
  for (let i = 0; i < 330; i++) {
    const t0 = performance.now();
    const obs = await hc.execute(runAction('echo hi'));
    const dt = performance.now() - t0;
    checkEcho(obs);
    if (i >= 30) httpTimes.push(dt);
  }
  hc.close();
  const wc = await wsClient(a.port);
  const wsTimes = [];
  for (let i = 0; i < 330; i++) {
    const t0 = performance.now();
    const { observation } = await wc.execute(runAction('echo hi'));
    const dt = performance.now() - t0;
    checkEcho(observation);
    if (i >= 30) wsTimes.push(dt);
  }
  r.http = httpTimes;
  r.ws = wsTimes;

  const SEQ = 'seq 1 10000000';
  log(`throughput: ${SEQ} via raw node-pty, then via /ws`);
  await ptyThroughputFloor('seq 1 100000'); // warm-up
  // Interleaved, 3 of each; the median run (by MB/s) of each side is reported.
  const raws = [];
  const wss = [];
  for (let i = 0; i < 3; i++) {
    raws.push(await ptyThroughputFloor(SEQ));
    const t0 = performance.now();
    const res = await withTimeout(wc.execute(runAction(SEQ, { blocking: true })), 90000, 'seq over /ws');
    const seconds = (performance.now() - t0) / 1000;
    if (res.observation.extras?.metadata?.exit_code !== 0) throw new Error(`seq failed: ${JSON.stringify(res.observation).slice(0, 400)}`);
    wss.push({ bytes: res.dataBytes, frameBytes: res.frameBytes, frames: res.frames, seconds });
  }
  const rate = (x) => x.bytes / x.seconds;
  const mid = (xs) => [...xs].sort((p, q) => rate(p) - rate(q))[1];
  r.rawSeq = mid(raws);
  r.wsSeq = mid(wss);
  r.seqRuns = { raw: raws.map((x) => rate(x) / MB), ws: wss.map((x) => rate(x) / MB) };
  wc.close();
  await stopChild(a.child, 'server A');

  // --- 5, 6 on a fresh server
  log('server B: idle RSS, RSS while 1 GB is printed');
  const { b, wb } = await idleServer(r);
  {
    const BIG = "yes aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa | head -c 1000000000";
    try {
      writeFileSync(`/proc/${b.pid}/clear_refs`, '5'); // resets VmHWM, so it shows this run's peak
    } catch {
      // not permitted: VmHWM then includes start-up
    }
    const base = rssKb(b.pid);
    let max = base;
    const samples = [];
    const sampler = setInterval(() => {
      try {
        const kb = rssKb(b.pid);
        samples.push(kb);
        if (kb > max) max = kb;
      } catch {
        // exited
      }
    }, 100);
    const t0 = performance.now();
    let res;
    try {
      res = await withTimeout(wb.execute(runAction(BIG, { blocking: true }), { fast: true }), 120000, '1 GB over /ws');
    } finally {
      clearInterval(sampler);
    }
    const seconds = (performance.now() - t0) / 1000;
    const hwm = rssKb(b.pid, 'VmHWM');
    const obs = res.observation;
    if (obs.extras?.metadata?.exit_code !== 0) throw new Error(`1 GB command failed: ${JSON.stringify(obs).slice(0, 400)}`);
    r.big = { base, max, hwm, seconds, frameBytes: res.frameBytes, frames: res.frames, contentChars: obs.content.length, samples: samples.length, truncated: /truncated/.test(obs.content) };
  }
  wb.close();
  await stopChild(b.child, 'server B');

  // --- table
  const f = (x, d = 2) => (typeof x === 'number' ? x.toFixed(d) : x);
  const pass = (ok) => (ok ? 'PASS' : 'FAIL');
  const rawMBs = r.rawSeq.bytes / MB / r.rawSeq.seconds;
  const wsMBs = r.wsSeq.bytes / MB / r.wsSeq.seconds;
  const ratio = wsMBs / rawMBs;
  const floors12 = `pty bash ${f(median(r.ptyRt))} / bash -c ${f(median(r.execFile))}`;
  const rows = [
    ['`echo hi` POST /execute_action p50 (ms, keep-alive, n=300)', f(median(r.http)), floors12, '<= 2', pass(median(r.http) <= 2)],
    ['`echo hi` POST /execute_action p95 (ms)', f(pct(r.http, 95)), `pty bash p95 ${f(pct(r.ptyRt, 95))}`, '', ''],
    ['`echo hi` /ws p50 (ms, one socket, n=300)', f(median(r.ws)), floors12, '<= 1', pass(median(r.ws) <= 1)],
    ['`echo hi` /ws p95 (ms)', f(pct(r.ws, 95)), `pty bash p95 ${f(pct(r.ptyRt, 95))}`, '', ''],
    ['process start to first /alive 200, median of 5 (ms)', f(r.start, 0), `bare node http ${f(r.bareStart, 0)}`, '<= 300', pass(r.start <= 300)],
    [
      `/ws streaming \`${SEQ}\` (MB/s)`,
      `${f(wsMBs, 1)} (${f(r.wsSeq.bytes / MB, 1)} MB in ${f(r.wsSeq.seconds, 2)} s)`,
      `raw node-pty ${f(rawMBs, 1)} (${f(r.rawSeq.bytes / MB, 1)} MB in ${f(r.rawSeq.seconds, 2)} s)`,
      '>= 70% of raw',
      `${pass(ratio >= 0.7)} (${f(ratio * 100, 0)}%)`,
    ],
    idleRssRow(r),
    [
      'server RSS growth while printing 1 GB over /ws (MB, max - baseline)',
      f((r.big.max - r.big.base) / 1024, 1),
      `baseline ${f(r.big.base / 1024, 1)}`,
      '<= 50',
      pass((r.big.max - r.big.base) / 1024 <= 50),
    ],
  ];
  const table = [
    '| metric | runtime-client | floor/baseline | target | pass? |',
    '|---|---|---|---|---|',
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ].join('\n');

  notes.push(
    `Servers ran with a fresh empty HOME (${HOME}) so the machine's ~/.bashrc is not measured (\`echo $HOME\` in the session: ${r.sessionHome === HOME ? 'the fresh dir, as intended' : `${r.sessionHome}, NOT the fresh dir`}); floors use \`bash --noprofile --norc\`.`,
    `Floors for echo hi: raw node-pty interactive bash (\`echo hi\` + marker, p50) / \`bash -c 'echo hi'\` via execFile per call (p50, n=100).`,
    `Start-up runs (ms): ${starts.map((x) => x.toFixed(0)).join(', ')}; /alive polled every ~2 ms; bare node http = \`node -e\` http server, same polling.`,
    `Streaming runs (MB/s, interleaved): raw node-pty ${r.seqRuns.raw.map((x) => x.toFixed(1)).join(', ')}; /ws ${r.seqRuns.ws.map((x) => x.toFixed(1)).join(', ')}; median run of each shown.`,
    `Streaming: bytes are the decoded \`data\` of output frames (${r.wsSeq.frames} frames, ${f(r.wsSeq.frameBytes / MB, 1)} MB of JSON), timed from sending execute to the observation frame (the client JSON-parses every frame); raw node-pty timed from spawn to exit (bash -c under a pty).`,
    idleRssNote(r),
    `1 GB run: ${f(r.big.seconds, 1)} s (${f(1000 / r.big.seconds, 0)} MB/s), ${r.big.frames} output frames / ${f(r.big.frameBytes / MB, 0)} MB JSON read, ${r.big.samples} RSS samples at 100 ms, peak VmHWM ${f(r.big.hwm / 1024, 1)} MB (growth ${f((r.big.hwm - r.big.base) / 1024, 1)} MB), observation content ${r.big.contentChars} chars${r.big.truncated ? ' (truncated, spilled to file)' : ''}.`,
  );

  process.stdout.write(`\n${table}\n\n`);
  for (const n of notes) process.stdout.write(`- ${n}\n`);
  process.stdout.write(
    `\nCommand: \`npm run bench\` | nproc ${os.availableParallelism?.() ?? os.cpus().length} | node ${process.version} | ${os.cpus()[0]?.model ?? ''} | ${os.platform()} ${os.release()} | bench wall time ${f((performance.now() - started) / 1000, 1)} s\n`,
  );
}

const watchdog = setTimeout(() => {
  process.stderr.write('[bench] watchdog: the bench took longer than 240 s\n');
  cleanup().finally(() => process.exit(1));
}, 240_000);
watchdog.unref();

let code = 0;
try {
  await main();
} catch (e) {
  process.stderr.write(`[bench] ERROR: ${e.stack ?? e}\n`);
  code = 1;
}
const left = await cleanup();
if (left.length) {
  process.stderr.write(`[bench] ERROR: processes left behind (killed now): ${left.join(', ')}\n`);
  code = code || 1;
} else {
  process.stdout.write('Leftover processes after the run: none.\n');
}
clearTimeout(watchdog);
process.exit(code);
