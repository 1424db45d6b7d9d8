#!/usr/bin/env node
// Benchmark of file transfers (issue: files) against `tar` piped through `cat` on the same
// machine, in the same run, on the same 1 GiB tree of incompressible data:
//   floor "read":  tar -C src -c . | cat > /dev/null            (what a download stream competes with)
//   floor "copy":  tar -C src -c . | cat | tar -C dst -x        (a tree copied through a pipe: what
//                  an upload or a download into a directory competes with)
// Ours: RuntimeClient.upload / download (both formats), a single 1 GiB file upload, and the raw
// tar download stream to /dev/null, against a real server (dist/runtime-client.mjs) on 127.0.0.1.
// Each is run RUNS times, interleaved with the floors; the median is shown. Server RSS is sampled
// every 10 ms; growth = peak during the transfer - RSS just before it.
// Prints a markdown table; exits 0 when a target is missed (FAIL in the table), non-zero on a
// real error (a wrong byte count, a server that does not start).
import http from 'node:http';
import os from 'node:os';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, lstatSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

const root = new URL('..', import.meta.url).pathname;
const { RuntimeClient } = await import(join(root, 'dist', 'client', 'index.js'));

const CLI = join(root, 'dist', 'runtime-client.mjs');
const NODE_FLAGS = ['--max-semi-space-size=2'];
const KEY = randomBytes(16).toString('hex');
const RUNS = Number(process.env.BENCH_FILES_RUNS ?? 3);
const SCRATCH = mkdtempSync(join(os.tmpdir(), 'rc-bench-files-'));
const MiB = 2 ** 20;
const MB = 1e6;

function log(msg) {
  process.stderr.write(`[bench:files] ${msg}\n`);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

/** The tree: 8 files of 64 MiB and 2048 of 256 KiB in 64 directories (1 GiB), random bytes. */
function makeTree(dir) {
  const block = randomBytes(4 * MiB);
  const write = (path, size) => {
    const fd = openSync(path, 'w', 0o644);
    for (let left = size, k = 0; left > 0; k++) {
      // A different slice each time so no two files are equal.
      const off = (k * 7919 + path.length * 131) % (block.length - MiB);
      const n = Math.min(left, MiB);
      writeSync(fd, block, off, n);
      left -= n;
    }
    closeSync(fd);
  };
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < 8; i++) write(join(dir, `big${i}.bin`), 64 * MiB);
  for (let d = 0; d < 64; d++) {
    const sub = join(dir, `d${d}`, 'sub');
    mkdirSync(sub, { recursive: true });
    for (let j = 0; j < 32; j++) write(join(sub, `f${j}.dat`), 256 * 1024);
  }
}

/** Files and bytes under `dir` (regular files only). */
function census(dir) {
  let files = 0;
  let bytes = 0;
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const st = lstatSync(join(d, name));
      if (st.isDirectory()) walk(join(d, name));
      else if (st.isFile()) {
        files++;
        bytes += st.size;
      }
    }
  };
  walk(dir);
  return { files, bytes };
}

function sh(script) {
  execFileSync('bash', ['-c', script], { stdio: ['ignore', 'ignore', 'inherit'] });
}

/** Flushes dirty pages so one run's writeback does not land in the next one's time. */
function settle() {
  sh('sync');
}

function rssKb(pid) {
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
}

async function startServer() {
  const home = join(SCRATCH, 'home');
  mkdirSync(home, { recursive: true });
  const child = spawn(process.execPath, [...NODE_FLAGS, CLI, '--host', '127.0.0.1', '--port', '0', '--working-dir', SCRATCH, '--max-upload-mb', '4096'], {
    env: { ...process.env, HOME: home, SESSION_API_KEY: KEY },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise((resolve, reject) => {
    let buf = '';
    child.once('exit', (code) => reject(new Error(`server exited (${code}) before listening`)));
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => {
      buf += d;
      for (let nl; (nl = buf.indexOf('\n')) !== -1; buf = buf.slice(nl + 1)) {
        try {
          const j = JSON.parse(buf.slice(0, nl));
          if (j.msg === 'listening') resolve(j.port);
        } catch {
          // not JSON
        }
      }
    });
  });
  const client = new RuntimeClient({ url: `http://127.0.0.1:${port}`, apiKey: KEY });
  await client.waitUntilAlive({ timeoutMs: 15000 });
  return { child, port, client };
}

/** Runs `fn` while sampling the server's RSS; returns seconds and RSS growth in MB. */
async function measured(pid, fn) {
  const base = rssKb(pid);
  let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, rssKb(pid))), 10);
  const t0 = performance.now();
  try {
    await fn();
  } finally {
    clearInterval(timer);
  }
  const seconds = (performance.now() - t0) / 1000;
  peak = Math.max(peak, rssKb(pid));
  return { seconds, growthMb: ((peak - base) * 1024) / MB };
}

async function timed(fn) {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

function rawTarDownload(port, path) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: `/download_files?${new URLSearchParams({ path, format: 'tar' })}`, headers: { 'x-session-api-key': KEY } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`download answered ${res.statusCode}`));
      let bytes = 0;
      res.on('data', (c) => (bytes += c.length));
      res.on('end', () => resolve(bytes));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

async function main() {
  const started = performance.now();
  const src = join(SCRATCH, 'src');
  log(`making a 1 GiB tree in ${src}`);
  makeTree(src);
  const want = census(src);
  const big = join(src, 'big0.bin');
  const single = join(SCRATCH, 'single.bin');
  sh(`for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do cat ${JSON.stringify(big)}; done > ${JSON.stringify(single)}`);
  const singleBytes = lstatSync(single).size;
  sh(`tar -C ${JSON.stringify(src)} -c . > /dev/null; cat ${JSON.stringify(single)} > /dev/null`); // warm the page cache

  const server = await startServer();
  const { client, port } = server;
  const pid = server.child.pid;
  const res = { floorRead: [], floorCopy: [], floorFile: [], upTar: [], upZip: [], upFile: [], downTar: [], downZip: [], rawTar: [] };
  const growth = {};
  const keep = (name, m) => {
    res[name].push(m.seconds);
    growth[name] = Math.max(growth[name] ?? 0, m.growthMb);
  };
  const check = (dir, what) => {
    const got = census(dir);
    if (got.files !== want.files || got.bytes !== want.bytes) throw new Error(`${what}: ${got.files} files / ${got.bytes} bytes, want ${want.files} / ${want.bytes}`);
  };

  for (let run = 1; run <= RUNS; run++) {
    log(`run ${run}/${RUNS}`);
    const out = join(SCRATCH, `out-${run}`);
    const q = (p) => JSON.stringify(p);

    settle();
    res.floorRead.push(await timed(async () => sh(`tar -C ${q(src)} -c . | cat > /dev/null`)));
    settle();
    mkdirSync(`${out}-floor`, { recursive: true });
    res.floorCopy.push(await timed(async () => sh(`tar -C ${q(src)} -c . | cat | tar -C ${q(`${out}-floor`)} -x`)));
    check(`${out}-floor`, 'tar | cat | tar -x');
    settle();
    mkdirSync(`${out}-floor-file`, { recursive: true });
    res.floorFile.push(await timed(async () => sh(`tar -C ${q(SCRATCH)} -c single.bin | cat | tar -C ${q(`${out}-floor-file`)} -x`)));

    settle();
    keep('upTar', await measured(pid, () => client.upload(src, `${out}-up-tar`, { format: 'tar' })));
    check(`${out}-up-tar`, 'upload tar');
    settle();
    keep('upZip', await measured(pid, () => client.upload(src, `${out}-up-zip`, { format: 'zip' })));
    check(`${out}-up-zip`, 'upload zip');
    settle();
    keep('upFile', await measured(pid, () => client.upload(single, `${out}-up-file`)));
    if (lstatSync(join(`${out}-up-file`, 'single.bin')).size !== singleBytes) throw new Error('single-file upload: wrong size');

    settle();
    keep('downTar', await measured(pid, () => client.download(src, `${out}-down-tar`, { format: 'tar' })));
    check(`${out}-down-tar`, 'download tar');
    settle();
    keep('downZip', await measured(pid, () => client.download(src, `${out}-down-zip`, { format: 'zip' })));
    check(`${out}-down-zip`, 'download zip');
    settle();
    let streamed = 0;
    keep('rawTar', await measured(pid, async () => (streamed = await rawTarDownload(port, src))));
    if (streamed < want.bytes) throw new Error(`raw tar download: ${streamed} bytes, fewer than the ${want.bytes} of data`);

    for (const name of readdirSync(SCRATCH)) if (name.startsWith(`out-${run}`)) rmSync(join(SCRATCH, name), { recursive: true, force: true });
  }
  await client.close();
  server.child.kill('SIGTERM');

  const rate = (bytes, seconds) => bytes / MB / seconds;
  const treeMBs = (name) => rate(want.bytes, median(res[name]));
  const floorRead = treeMBs('floorRead');
  const floorCopy = treeMBs('floorCopy');
  const floorFile = rate(singleBytes, median(res.floorFile));
  const f = (x, d = 0) => x.toFixed(d);
  const row = (label, name, mbs, floorName, floor) => {
    const ratio = mbs / floor;
    const rss = growth[name];
    const ok = ratio >= 0.7 && rss <= 64;
    return [label, f(mbs), `${floorName} ${f(floor)}`, `${f(ratio * 100)}%`, f(rss, 1), ok ? 'PASS' : 'FAIL'];
  };
  const rows = [
    row('upload dir, tar (`client.upload`)', 'upTar', treeMBs('upTar'), 'copy', floorCopy),
    row('upload dir, zip', 'upZip', treeMBs('upZip'), 'copy', floorCopy),
    row('upload one 1 GiB file', 'upFile', rate(singleBytes, median(res.upFile)), 'copy of the file', floorFile),
    row('download dir, tar (`client.download`)', 'downTar', treeMBs('downTar'), 'copy', floorCopy),
    row('download dir, zip', 'downZip', treeMBs('downZip'), 'copy', floorCopy),
    row('download stream, tar, to /dev/null', 'rawTar', treeMBs('rawTar'), 'read', floorRead),
  ];
  const table = [
    '| transfer of 1 GiB | MB/s | floor MB/s | of floor | server RSS growth (MB) | target >= 70%, <= 64 MB |',
    '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
  process.stdout.write(`\n${table}\n\n`);
  const runs = (name) => res[name].map((s) => f(s, 2)).join(', ');
  process.stdout.write(
    [
      `- Tree: ${want.files} files, ${f(want.bytes / MB)} MB of random bytes (8 x 64 MiB, 2048 x 256 KiB in 64 dirs); one file: ${f(singleBytes / MB)} MB. Page cache warm; \`sync\` before every run (not timed).`,
      `- Floors: read = \`tar -C src -c . | cat > /dev/null\`; copy = \`tar -C src -c . | cat | tar -C dst -x\`; copy of the file = the same with the one file.`,
      `- Seconds per run: floor read ${runs('floorRead')}; floor copy ${runs('floorCopy')}; floor file ${runs('floorFile')}; upload tar ${runs('upTar')}; zip ${runs('upZip')}; file ${runs('upFile')}; download tar ${runs('downTar')}; zip ${runs('downZip')}; stream ${runs('rawTar')}.`,
      `- Client and server on the same ${os.availableParallelism()} cores over 127.0.0.1; the client unpacks downloads and packs uploads itself (node, tar-stream/yazl/yauzl).`,
      `\nCommand: \`node bench/files.mjs\` (part of \`npm run bench\`) | node ${process.version} | ${os.cpus()[0]?.model ?? ''} | wall ${f((performance.now() - started) / 1000, 1)} s\n`,
    ].join('\n'),
  );
}

let code = 0;
try {
  await main();
} catch (e) {
  process.stderr.write(`[bench:files] failed: ${e.stack ?? e}\n`);
  code = 1;
} finally {
  rmSync(SCRATCH, { recursive: true, force: true });
}
process.exit(code);
