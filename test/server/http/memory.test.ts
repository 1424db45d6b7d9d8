// Issue 10, item 10: memory grows without bound. Each stored observation kept the full command
// text, a refused one twice: 90 refused 9 MB commands took the server from 68 MB to 1.69 GB RSS.
// Now the recorded command is cut to 4,096 characters and the result store has a byte budget.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, KEY, exitCodeOf, type TestServer } from '../../helpers/server.js';

const MB = 1e6;
let server: TestServer;
let dir: string;
beforeAll(async () => {
  server = await startServer();
  dir = mkdtempSync(join(tmpdir(), 'rc-memory-'));
});
afterAll(async () => {
  await server.run('C-c', { is_input: true }).catch(() => {});
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The server process's resident set, in bytes. */
const rss = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${server.proc.pid}/status`, 'utf8'))![1]) * 1024;

describe('memory (issue 10 item 10)', () => {
  it('stays bounded under 60 refused 8 MB commands, each recorded with its command cut to 4,096 characters', async () => {
    const busy = await server.run('sleep 600', {}, 1); // returns after 1 s; the session stays busy
    expect(exitCodeOf(busy)).toBe(-1);
    const before = rss();
    let peak = before;
    const command = `echo refused # ${'x'.repeat(8 * 2 ** 20)}`;
    for (let i = 0; i < 60; i++) {
      const { status, body } = await server.execute({ action: 'run', args: { command } }, { id: `refused-${i}` });
      expect(status).toBe(200);
      expect(body.extras.metadata.prefix + body.extras.metadata.suffix).toMatch(/NOT executed/);
      if (i === 0) {
        expect(body.extras.command).toBe(`${command.slice(0, 4096)}\n[command truncated: ${command.length} characters in all]`);
      }
      peak = Math.max(peak, rss());
    }
    const after = rss();
    // Before the fix this grew by more than 1 GB (two copies of 60 x 8 MB).
    expect(peak - before).toBeLessThan(600 * MB);
    expect(after - before).toBeLessThan(400 * MB);
    const replay = await fetch(`${server.url}/actions/refused-59`, { headers: { 'x-session-api-key': KEY } });
    expect(replay.status).toBe(200);
    expect((await replay.json()).extras.command.length).toBeLessThan(4200);
  });

  it('evicts old results past the byte budget: their ids answer 404, and run again when sent again', async () => {
    const counter = join(dir, 'counter');
    const count = { action: 'run', args: { command: `echo x >> ${counter}; wc -l < ${counter}`, session: 'side' } };
    const first = await server.execute(count, { id: 'evict-me' });
    expect(first.body.content).toBe('1\n');
    // Each created file comes back in the observation (new_content, diff): ~16 MB a record.
    const text = 'y'.repeat(8 * 2 ** 20);
    const before = rss();
    for (let i = 0; i < 20; i++) {
      const { status } = await server.execute({ action: 'edit', args: { command: 'create', path: join(dir, `big-${i}`), file_text: text } }, { id: `big-${i}` });
      expect(status).toBe(200);
    }
    expect(rss() - before).toBeLessThan(600 * MB); // 20 x 16 MB = 320 MB were held before; the byte budget keeps far less
    const gone = await fetch(`${server.url}/actions/evict-me`, { headers: { 'x-session-api-key': KEY } });
    expect(gone.status).toBe(404);
    expect((await fetch(`${server.url}/actions/big-19`, { headers: { 'x-session-api-key': KEY } })).status).toBe(200);
    const again = await server.execute(count, { id: 'evict-me' });
    expect(again.body.content).toBe('2\n');
  });
});
