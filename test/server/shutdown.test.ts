// SIGTERM and SIGINT: exit 0 within 5 s, leaving no process of any session behind.
import { expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { sessionMembers } from '../../server/shell/procs.js';
import { startServer, exitCodeOf } from '../helpers/server.js';

const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readStatus(pid));
function readStatus(pid: number): string {
  try {
      return readFileSync(`/proc/${pid}/status`, 'utf8');
    } catch {
      return '';
    }
  }

  /** `cmd & echo $!` prints the job notice `[1] PID` then PID. */
  const lastNumber = (text: string) => Number(text.trim().split('\n').at(-1));

  it.each(['SIGTERM', 'SIGINT'] as const)('%s ends every session process and exits 0 within 5 s', async (signal) => {
    const server = await startServer();
    try {
    const background = await server.run('sleep 100 & echo $!');
    const bgPid = lastNumber(background.content);
    const shellA = background.extras.metadata.pid;
    const running = await server.run('sleep 200', { session: 'other' }, 1);
    expect(exitCodeOf(running)).toBe(-1);
    const shellB = running.extras.metadata.pid;
    const nohup = await server.run('nohup sleep 300 > /dev/null 2>&1 & echo $!', { session: 'third' });
    const nohupPid = lastNumber(nohup.content);
    for (const pid of [bgPid, shellA, shellB, nohupPid]) expect(alive(pid)).toBe(true);
    expect(sessionMembers(shellB).length).toBeGreaterThan(1);

    const started = Date.now();
    const code = await server.stop(signal);
    expect(code).toBe(0);
    expect(Date.now() - started).toBeLessThan(5000);
    await new Promise((r) => setTimeout(r, 200));
    for (const pid of [bgPid, shellA, shellB, nohupPid]) expect(alive(pid), `pid ${pid}`).toBe(false);
    for (const shell of [shellA, shellB]) expect(sessionMembers(shell).filter(alive)).toEqual([]);
  } finally {
    await server.stop('SIGKILL');
  }
});
