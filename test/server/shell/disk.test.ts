// A full disk, and the spill files' budget: nothing a session does to the disk crashes the
// server or wedges a session (issue 10, items 6 and 11).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ActionStore } from '../../../server/actions/store.js';
import { OutputCapture } from '../../../server/shell/output.js';
import { SpillFiles, removeSpillOf } from '../../../server/shell/spill.js';
import { startServer, exitCodeOf, type TestServer } from '../../helpers/server.js';

const isRoot = process.getuid?.() === 0;
const runtimeDirOf = (server: TestServer) => String(server.logs.find((l) => l.msg === 'runtime files')?.dir);

function spillFilesIn(dir: string): string[] {
  const found: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.name.startsWith('output-')) found.push(join(d, e.name));
    }
  };
  walk(dir);
  return found;
}

describe.runIf(isRoot)('on a full disk (item 6)', () => {
  let mountPoint: string;
  let server: TestServer;
  beforeAll(async () => {
    mountPoint = mkdtempSync(join(tmpdir(), 'rc-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'rc-full', mountPoint]);
    server = await startServer({ env: { TMPDIR: mountPoint } });
  });
  afterAll(async () => {
    await server?.stop();
    execFileSync('umount', ['-l', mountPoint]);
    rmSync(mountPoint, { recursive: true, force: true });
  });

  it('a long output keeps its head and tail and says it could not be saved; nothing crashes', async () => {
    expect(runtimeDirOf(server).startsWith(mountPoint)).toBe(true);
    const fill = await server.run(`cat /dev/zero > ${mountPoint}/fill; df -k ${mountPoint} | tail -1`);
    expect(fill.content).toContain('No space left on device');
    const obs = await server.run('seq 1 100000', { session: 'printer' });
    expect(exitCodeOf(obs)).toBe(0);
    expect(obs.content.startsWith('1\n2\n3\n')).toBe(true);
    expect(obs.content.trimEnd().endsWith('99999\n100000')).toBe(true);
    expect(obs.content).toMatch(/could not be saved: ENOSPC|Only its first \d+ characters could be saved/);
    // A command too long for one line needs a file: refused, the session stays usable.
    const long = (await server.execute({ action: 'run', args: { command: `: ${'z'.repeat(5000)}`, session: 'printer' } })).body;
    expect(long.observation).toBe('error');
    expect(long.extras.error_id).toBe('command_not_written');
    expect((await server.run('echo usable', { session: 'printer' })).content.trim()).toBe('usable');
    expect((await fetch(`${server.url}/alive`)).status).toBe(200);
    await server.run(`rm -f ${mountPoint}/fill`);
    const saved = await server.run('seq 1 20000', { session: 'printer' });
    expect(saved.content).toContain('The whole output');
    expect(existsSync(saved.meta!.full_output_path)).toBe(true);
  });
});

describe('spill files (item 11)', () => {
  it('stay within --max-spill-mb: a long print is cut there, older files go first', async () => {
    const server = await startServer({ args: ['--max-spill-mb', '1'] });
    try {
      const dir = runtimeDirOf(server);
      const big = await server.run('seq 1 400000'); // ~2.7 MB
      expect(big.content).toContain('the disk budget for saved outputs is used up');
      expect(statSync(big.meta!.full_output_path).size).toBeLessThanOrEqual(1 << 20);
      for (let i = 0; i < 4; i++) await server.run('seq 1 50000'); // ~290 KB each
      const files = spillFilesIn(dir);
      const total = files.reduce((n, f) => n + statSync(f).size, 0);
      expect(total).toBeLessThanOrEqual(1 << 20);
      expect(files).not.toContain(big.meta!.full_output_path);
    } finally {
      await server.stop();
    }
  });

  it('are deleted when their result leaves the store', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rc-spill-'));
    const files = new SpillFiles(1 << 30);
    const store = new ActionStore({ keepCount: 1, keepMs: 0, onEvict: removeSpillOf(files) });
    const paths: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { record } = store.claim(`id-${i}`, 'run', 'default', `fp-${i}`);
      const capture = new OutputCapture(10, { files, create: () => files.create(dir) });
      capture.push('x'.repeat(100));
      const out = capture.take();
      paths.push(out.fullOutputPath!);
      record.finish({ observation: 'run', content: out.text, extras: { command: 'x', hidden: false, metadata: {} as never }, success: true, meta: { still_running: false, refused: false, full_output_path: out.fullOutputPath } } as never);
      await record.done;
      await new Promise((r) => setImmediate(r));
    }
    expect(paths.map((p) => existsSync(p))).toEqual([false, false, true]);
    expect(files.paths).toEqual([paths[2]]);
    rmSync(dir, { recursive: true, force: true });
  });
});
