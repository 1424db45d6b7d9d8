// Sessions over HTTP: listed, ended, reset; evicted past --max-sessions; a slow shell is waited
// for, never killed (issue 10, items 7 and 8).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SessionList } from '../../protocol/index.js';
import { startServer, exitCodeOf, KEY, type TestServer } from '../helpers/server.js';

const auth = { 'x-session-api-key': KEY };
async function call(server: TestServer, method: string, path: string) {
  const res = await fetch(server.url + path, { method, headers: auth });
  return { status: res.status, body: await res.json() };
}

describe('the session routes', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ args: ['--max-sessions', '4'] });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('GET /sessions lists every session in the protocol shape', async () => {
    await server.run('cd /tmp', { session: 'listed' });
    const { status, body } = await call(server, 'GET', '/sessions');
    expect(status).toBe(200);
    const list = SessionList.parse(body);
    const listed = list.sessions.find((s) => s.name === 'listed');
    expect(listed).toMatchObject({ cwd: '/tmp', busy: false, state: 'idle' });
  });

  it('DELETE /sessions/{name} ends it; the waiting action completes and the name starts afresh', async () => {
    await server.run('export KEPT=yes', { session: 'ending' });
    const waiting = server.run('sleep 100', { session: 'ending', blocking: true });
    await new Promise((r) => setTimeout(r, 300));
    const ended = await call(server, 'DELETE', '/sessions/ending');
    expect(ended).toEqual({ status: 200, body: { name: 'ending', ended: true } });
    const obs = await waiting;
    expect(exitCodeOf(obs)).not.toBe(-1);
    expect(obs.extras.metadata.suffix).toContain('The session was ended');
    expect((await call(server, 'GET', '/sessions')).body.sessions.map((s: any) => s.name)).not.toContain('ending');
    const fresh = await server.run('echo "KEPT=${KEPT-}"', { session: 'ending' });
    expect(fresh.content.trim()).toBe('KEPT=');
    expect((await call(server, 'DELETE', '/sessions/never-was')).status).toBe(404);
  });

  it('POST /sessions/{name}/reset gives a fresh shell and ends what the old one ran', async () => {
    await server.run('export KEPT=yes; cd /', { session: 'resetting' });
    const running = server.run('sleep 100', { session: 'resetting', blocking: true });
    await new Promise((r) => setTimeout(r, 300));
    const { status, body } = await call(server, 'POST', '/sessions/resetting/reset');
    expect(status).toBe(200);
    expect(body).toMatchObject({ name: 'resetting', state: 'idle', busy: false });
    expect(exitCodeOf(await running)).not.toBe(-1);
    const after = await server.run('echo "KEPT=${KEPT-}"; pwd', { session: 'resetting' });
    expect(after.content.trim().split('\n')[0]).toBe('KEPT=');
    expect((await call(server, 'POST', '/sessions/../reset')).status).toBeGreaterThanOrEqual(400);
  });

  it('past --max-sessions the session idle longest is ended, never default or a busy one (item 8)', async () => {
    for (const name of ['listed', 'ending', 'resetting']) await call(server, 'DELETE', `/sessions/${name}`);
    // default + 3 more = the cap of 4; names come and go far past 100 over time.
    for (let i = 0; i < 12; i++) expect(exitCodeOf(await server.run('true', { session: `s${i}` }))).toBe(0);
    const names = (await call(server, 'GET', '/sessions')).body.sessions.map((s: any) => s.name).sort();
    expect(names).toEqual(['default', 's10', 's11', 's9']);
    expect(server.logs.some((l) => l.msg === 'session ended to make room (it was idle longest)' && l.session === 's0')).toBe(true);
    // Busy sessions are not evicted: with all three others running, a new name is refused.
    const busy = ['s9', 's10', 's11'].map((session) => server.run('sleep 100', { session }, 1));
    await Promise.all(busy);
    const refused = await server.execute({ action: 'run', args: { command: 'true', session: 'one-too-many' } });
    expect(refused.body.observation).toBe('error');
    expect(refused.body.extras.error_id).toBe('conflict');
    expect(refused.body.content).toContain('all 4 sessions are in use');
    for (const name of ['s9', 's10', 's11']) await call(server, 'DELETE', `/sessions/${name}`);
  });
});

describe('a shell slow to read its rc files (item 8)', () => {
  it('is not killed midway: the action says it is still starting, and the next one gets it', async () => {
    const home = mkdtempSync(join(tmpdir(), 'rc-slow-home-'));
    writeFileSync(join(home, '.bashrc'), `sleep 3; touch "$HOME/rc-finished-$$"; echo "$$" >> "$HOME/shells"\n`);
    const server = await startServer({ env: { HOME: home }, args: ['--shell-start-timeout', '1'], skipWait: true });
    try {
      const first = (await server.execute({ action: 'run', args: { command: 'echo hi', session: 'slow' } })).body;
      expect(first.observation).toBe('error');
      expect(first.extras.error_id).toBe('session_starting');
      expect(first.content).toContain('still starting');
      let attempts = 1;
      let next = first;
      while (next.observation === 'error' && attempts < 10) {
        expect(next.extras.error_id).toBe('session_starting');
        next = (await server.execute({ action: 'run', args: { command: 'echo hi', session: 'slow' } })).body;
        attempts++;
      }
      expect(next.content.trim()).toBe('hi');
      expect(attempts).toBeGreaterThan(1);
      // One shell per session, each of which finished its rc file: nothing was killed or retried.
      const shells = await server.run('sort -u "$HOME/shells" | wc -l; ls "$HOME" | grep -c rc-finished');
      expect(shells.content.trim().split('\n')).toEqual(['2', '2']);
      expect(existsSync(home)).toBe(true);
    } finally {
      await server.stop();
    }
  });
});
