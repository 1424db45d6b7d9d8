#!/usr/bin/env node
// Why packing reads files with synchronous calls (protocol/archive/pack.ts): the same files read
// and written three ways, one after another, in one process. Reads: lstat, open, one read, close
// of 2048 files of 256 KiB (the bench tree's small files, in the page cache). Writes: the same
// number of files created and written in 64 KiB chunks (as a socket delivers them). Prints a
// table of wall time and CPU (user + system) per way, best of 3. Sync writes use less CPU here
// too, but unpacking keeps them on the thread pool: one thread doing every write serialised what
// the pool overlaps, and trees unpacked end to end (bench/files.mjs) took longer.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';

const FILES = 2048;
const SIZE = 256 * 1024;
const dir = fs.mkdtempSync(join(os.tmpdir(), 'rc-bench-fs-'));
const src = join(dir, 'src');
const dst = join(dir, 'dst');
const data = Buffer.alloc(SIZE, 7);
fs.mkdirSync(src);
const files = Array.from({ length: FILES }, (_, i) => join(src, `f${i}`));
for (const f of files) fs.writeFileSync(f, data);
const buf = Buffer.allocUnsafeSlow(2 ** 20);
const chunks = () => Array.from({ length: SIZE / 65536 }, (_, i) => data.subarray(i * 65536, (i + 1) * 65536));
const cb = { open: promisify(fs.open), read: promisify(fs.read), close: promisify(fs.close), lstat: promisify(fs.lstat), write: promisify(fs.write) };

const reads = {
  sync: async (f) => {
    fs.lstatSync(f);
    const fd = fs.openSync(f, 'r');
    fs.readSync(fd, buf, 0, buf.length, 0);
    fs.closeSync(fd);
  },
  callbacks: async (f) => {
    await cb.lstat(f);
    const fd = await cb.open(f, 'r');
    await cb.read(fd, buf, 0, buf.length, 0);
    await cb.close(fd);
  },
  'fs/promises': async (f) => {
    await fsp.lstat(f);
    const fh = await fsp.open(f, 'r');
    await fh.read(buf, 0, buf.length, 0);
    await fh.close();
  },
};
const writes = {
  sync: async (f) => {
    const fd = fs.openSync(f, 'w', 0o600);
    for (const c of chunks()) fs.writeSync(fd, c);
    fs.closeSync(fd);
  },
  callbacks: async (f) => {
    const fd = await cb.open(f, 'w', 0o600);
    for (const c of chunks()) await cb.write(fd, c);
    await cb.close(fd);
  },
  createWriteStream: (f) => pipeline(Readable.from(chunks()), fs.createWriteStream(f, { mode: 0o600 })),
};

async function measure(fn, target) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < FILES; i++) await fn(target(i));
  const c = process.cpuUsage(c0);
  return { wall: performance.now() - t0, cpu: (c.user + c.system) / 1000 };
}

const rows = [];
try {
  for (const [what, ways, target] of [
    ['read', reads, (i) => files[i]],
    ['write', writes, (i) => join(dst, `f${i}`)],
  ]) {
    const best = Object.fromEntries(Object.keys(ways).map((k) => [k, { wall: Infinity, cpu: Infinity }]));
    for (let round = 0; round < 3; round++) {
      for (const [name, fn] of Object.entries(ways)) {
        if (what === 'write') {
          fs.rmSync(dst, { recursive: true, force: true });
          fs.mkdirSync(dst);
        }
        const m = await measure(fn, target);
        best[name] = { wall: Math.min(best[name].wall, m.wall), cpu: Math.min(best[name].cpu, m.cpu) };
      }
    }
    for (const [name, m] of Object.entries(best)) rows.push(`| ${what} | ${name} | ${m.wall.toFixed(0)} | ${m.cpu.toFixed(0)} |`);
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
process.stdout.write(
  [
    '',
    `| ${FILES} files of ${SIZE / 1024} KiB (best of 3) | way | wall ms | CPU ms |`,
    '|---|---|---|---|',
    ...rows,
    '',
    `Command: \`node bench/fs-calls.mjs\` | node ${process.version} | ${os.availableParallelism()} cores`,
    '',
  ].join('\n'),
);
