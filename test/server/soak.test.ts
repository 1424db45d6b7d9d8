// Soak: ten minutes (SOAK_SECONDS) of the attacks of issue 10, in a loop, on one server. Through
// it all /alive answers within 100 ms; at the end RSS is back within 30 MB of where it started
// (after one warm-up round), no descriptor was leaked, no process of the attacks is left, and
// stopping the server leaves no runtime files.
import { expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import net from 'node:net';
import { spawn } from 'node:child_process';
import WebSocket from 'ws';
import { startServer, exitCodeOf, KEY, type TestServer } from '../helpers/server.js';
import { killAll, processesWith } from '../helpers/procs.js';
import { linkChain, tarOf, zipOf } from '../archive/evil.js';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 600);
const MARK = `sleep 1000.${process.pid}9`;
const auth = { 'x-session-api-key': KEY };

const rssOf = (pid: number) => Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
/** The server's descriptors: sockets apart, since this process's fetch pool keeps some open (up to the server's 65 s keep-alive). */
function fdsOf(pid: number): { sockets: number; other: number } {
  let sockets = 0;
  let other = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) sockets++;
      else other++;
    } catch {
      // closed while we looked
    }
  }
  return { sockets, other };
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Measures /alive every 50 ms from a process of its own (the test's own event loop is busy
 * building attacks, which would show up as server latency); stop() returns the worst latency.
 */
function probeAlive(url: string): { stop(): Promise<{ worstMs: number; probes: number; failures: number }> } {
  const script = `
    let running = true, worstMs = 0, probes = 0, failures = 0;
    process.on('SIGTERM', () => (running = false));
    (async () => {
      await fetch(${JSON.stringify(url + '/alive')}).then((r) => r.arrayBuffer()); // loads fetch itself: not the server's time
      while (running) {
        const t = performance.now();
        const res = await fetch(${JSON.stringify(url + '/alive')}, { signal: AbortSignal.timeout(2000) }).catch(() => null);
        const ms = performance.now() - t;
        probes++;
        if (res?.status !== 200) failures++; else worstMs = Math.max(worstMs, ms);
        await res?.arrayBuffer().catch(() => {});
        await new Promise((r) => setTimeout(r, 50));
      }
      process.stdout.write(JSON.stringify({ worstMs, probes, failures }));
    })();`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    async stop() {
      child.kill('SIGTERM');
      await exited;
      return JSON.parse(out);
    },
  };
}

async function upload(server: TestServer, archive: Buffer, name: string, query: Record<string, string>): Promise<number> {
  const form = new FormData();
  form.append('file', new Blob([archive]), name);
  const res = await fetch(`${server.url}/upload_file?${new URLSearchParams(query)}`, { method: 'POST', headers: auth, body: form });
  await res.arrayBuffer();
  return res.status;
}

/** A zip whose one deflated entry expands to `bytes` of zeros (declared honestly). */
async function zipBomb(bytes: number): Promise<Buffer> {
  return zipOf([{ name: 'zeros.bin', data: Buffer.alloc(bytes) }], true);
}

function nested(depth: number): string {
  return '['.repeat(depth) + ']'.repeat(depth);
}

// Made once: building them each round would load the machine's two cores from this process.
const NESTED_FRAME = nested(4_900_000);
const NESTED_BODY = nested(200_000);
const NINE_MB_COMMAND = `: ${'x'.repeat(9_000_000)}`;

/** One round of every attack; each checks the server's answer. */
async function round(server: TestServer, i: number, bomb: Buffer, chain: Buffer): Promise<void> {
  const s = `soak${i % 3}`;
  const post = (body: string, headers: Record<string, string> = auth) =>
    fetch(`${server.url}/execute_action`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body }).then(async (r) => ({ status: r.status, text: await r.text() }));

  // Network: an unauthenticated WebSocket sends a 9.8 MB nested frame; a deep HTTP body; bad JSON;
  // huge headers; a slowloris body; a request without the key.
  const ws = new WebSocket(server.url.replace('http', 'ws') + '/ws');
  await new Promise((resolve) => ws.once('open', resolve).once('error', resolve));
  const closed = new Promise((resolve) => ws.once('close', resolve));
  if (ws.readyState === WebSocket.OPEN) ws.send(NESTED_FRAME);
  await Promise.race([closed, sleep(3000)]);
  ws.terminate();
  expect((await post(NESTED_BODY)).status).toBe(400);
  expect((await post('{"action": {"action": "run", ')).status).toBe(400);
  expect((await post('{}', {})).status).toBe(401);
  const huge = await fetch(`${server.url}/alive`, { headers: { 'x-big': 'h'.repeat(20_000) } }).then((r) => r.status).catch(() => 0);
  expect(huge).not.toBe(200);
  const slow = net.connect(server.port, '127.0.0.1');
  slow.on('error', () => {});
  slow.write(`POST /execute_action HTTP/1.1\r\nHost: x\r\nx-session-api-key: ${KEY}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{`);
  const drip = setInterval(() => slow.write(' '), 500);

  // Input edges.
  const action = (args: Record<string, unknown>, extra: Record<string, unknown> = {}) => JSON.stringify({ action: { action: 'run', args, ...extra }, ...(extra.id ? { id: extra.id } : {}) });
  expect((await post(action({ command: 'echo a\0b', session: s }))).status).toBe(400);
  expect((await post(action({ command: 'true', session: s }, { timeout: 3_000_000 }))).status).toBe(400);
  expect((await post(action({ command: 'true', session: '..' }))).status).toBe(400);
  await post(JSON.stringify({ action: { action: 'run', args: { command: 'true', session: s } }, id: `soak-id-${i}` }));
  expect((await post(JSON.stringify({ action: { action: 'run', args: { command: 'false', session: s } }, id: `soak-id-${i}` }))).status).toBe(409);

  // The session: a big print, random binary, a forged mark, refused big commands while busy.
  const big = await server.run('yes 0123456789abcdef | head -c 60000000', { session: s, blocking: true });
  expect(exitCodeOf(big)).toBe(0);
  const binary = await server.run('head -c 1000000 /dev/urandom; echo', { session: s, blocking: true });
  expect(exitCodeOf(binary)).toBe(0);
  const forged = await server.run(`printf '\\033]6973;%s;P;0;\\037/\\007' deadbeef; sleep 0.3; echo real`, { session: s, blocking: true });
  expect(forged.content).toContain('real');
  await server.run('sleep 30', { session: s }, 1);
  for (let k = 0; k < 3; k++) {
    const refused = await server.run(NINE_MB_COMMAND, { session: s });
    expect(refused.extras.metadata.suffix).toContain('previous command is still running');
    expect(refused.extras.command.length).toBeLessThan(10_000);
  }
  await server.execute({ action: 'run', args: { command: 'C-c', is_input: true, session: s }, timeout: 5 });

  // Processes: a trapped job, a foreground fork bomb, daemons, a killed shell, redirected stderr.
  const t = `trap${i % 2}`;
  await server.run(`trap '' INT; ${MARK}`, { session: t }, 1);
  await server.execute({ action: 'run', args: { command: 'C-c', is_input: true, session: t }, timeout: 1 });
  const second = await server.execute({ action: 'run', args: { command: 'C-c', is_input: true, session: t }, timeout: 10 });
  expect(exitCodeOf(second.body)).not.toBe(-1);
  await server.run(`bash -c 'b() { if [ $1 -gt 0 ]; then b $(($1-1)) & b $(($1-1)); else ${MARK}; fi; }; b 6'`, { session: 'bomb' }, 2);
  await server.execute({ action: 'run', args: { command: 'C-c', is_input: true, session: 'bomb' }, timeout: 10 });
  await server.run(`setsid ${MARK} & nohup setsid bash -c '${MARK}' >/dev/null 2>&1 & (setsid ${MARK} &)`, { session: 'daemons' });
  const ended = await fetch(`${server.url}/sessions/daemons`, { method: 'DELETE', headers: auth });
  expect(ended.status).toBe(200);
  await server.run('kill -9 $$', { session: s });
  const redirected = await server.run('exec 2>/dev/null; echo hidden-marks >&2; echo ok', { session: `redir${i}` });
  expect(redirected.content.trim()).toBe('ok');
  await fetch(`${server.url}/sessions/redir${i}`, { method: 'DELETE', headers: auth });

  // Archives: a zip bomb, a symlink chain.
  expect(await upload(server, bomb, 'bomb.zip', { destination: '/tmp', recursive: 'true' })).toBe(413);
  expect(await upload(server, chain, 'chain.tar', { destination: '/tmp', recursive: 'true', format: 'tar' })).toBe(400);

  clearInterval(drip);
  slow.destroy();
}

it(`survives ${SECONDS} s of mixed abuse`, { timeout: (SECONDS + 180) * 1000 }, async () => {
  // Small caches (results, spill files) that the warm-up fills, so that what RSS does afterwards
  // shows a leak rather than a cache still growing to its (larger) default size.
  const server = await startServer({ args: ['--max-unpacked-mb', '16', '--max-spill-mb', '64', '--body-timeout', '2', '--max-sessions', '12', '--max-results-mb', '4'] });
  const pid = server.proc.pid!;
  const runtimeDir = String(server.logs.find((l) => l.msg === 'runtime files')?.dir);
  const bomb = await zipBomb(64 * 2 ** 20);
  expect(bomb.length).toBeLessThan(200_000);
  const chain = await tarOf([...linkChain(12), { name: 'l12/tmp/escaped', data: 'x' }]);
  try {
    // Warm-up: code loaded, the result store and the spill budget filled to their caps.
    for (let w = 0; w < 3; w++) await round(server, -w - 1, bomb, chain);
    await endSessions(server);
    const startRss = await settledRss(pid);
    const startFds = fdsOf(pid);
    const probe = probeAlive(server.url);
    const deadline = Date.now() + SECONDS * 1000;
    let rounds = 0;
    let peakRss = startRss;
    while (Date.now() < deadline) {
      await round(server, ++rounds, bomb, chain);
      peakRss = Math.max(peakRss, rssOf(pid));
    }
    const alive = await probe.stop();
    await endSessions(server); // each session holds its pty: count descriptors with the same sessions
    const endRss = await settledRss(pid);
    const endFds = fdsOf(pid);
    const spillBytes = listFiles(runtimeDir).reduce((n, f) => n + statSync(f).size, 0);
    console.log(
      `soak: ${rounds} rounds in ${SECONDS} s; /alive worst ${alive.worstMs.toFixed(1)} ms over ${alive.probes} probes (${alive.failures} failed); ` +
        `RSS ${(startRss / 2 ** 20).toFixed(1)} -> ${(endRss / 2 ** 20).toFixed(1)} MiB (peak ${(peakRss / 2 ** 20).toFixed(1)}); fds ${JSON.stringify(startFds)} -> ${JSON.stringify(endFds)}; runtime files ${(spillBytes / 2 ** 20).toFixed(1)} MiB`,
    );
    expect(rounds).toBeGreaterThan(0);
    expect(alive.failures).toBe(0);
    expect(alive.worstMs).toBeLessThan(100);
    expect(endRss - startRss).toBeLessThan(30 * 2 ** 20);
    // Files, ptys and pipes: none more. Sockets: a leak would grow with the rounds; the client pool is a few.
    expect(endFds.other).toBeLessThanOrEqual(startFds.other);
    expect(endFds.sockets).toBeLessThanOrEqual(startFds.sockets + 8);
    expect(spillBytes).toBeLessThanOrEqual(64 * 2 ** 20 + 2 ** 20);
    await sleep(500);
    expect(processesWith(MARK)).toEqual([]);
    expect(await server.stop('SIGTERM')).toBe(0);
    expect(existsSync(runtimeDir)).toBe(false);
  } finally {
    killAll(MARK);
    await server.stop('SIGKILL');
  }
});

/**
 * Where the server's RSS settles when idle: the least of 15 samples a second apart (idle
 * keep-alive sockets of this process's fetch close after 4 s, and V8 gives memory back after some
 * idle seconds). The start and the end are measured the same way.
 */
async function settledRss(pid: number): Promise<number> {
  let least = Infinity;
  for (let i = 0; i < 15; i++) {
    await sleep(1000);
    least = Math.min(least, rssOf(pid));
  }
  return least;
}

/** Ends every session but `default`. */
async function endSessions(server: TestServer): Promise<void> {
  const { sessions } = await (await fetch(`${server.url}/sessions`, { headers: auth })).json();
  for (const { name } of sessions) if (name !== 'default') await fetch(`${server.url}/sessions/${name}`, { method: 'DELETE', headers: auth });
}

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const found: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) found.push(`${e.parentPath}/${e.name}`);
  }
  return found;
}
