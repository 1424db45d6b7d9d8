// A hostile program in the session: what it may not do to the server (issue 10, items 1, 5, 7, 11).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { startServer, exitCodeOf, type TestServer } from '../../helpers/server.js';
import { goneWithin, killAll, processesWith } from '../../helpers/procs.js';

const isRoot = process.getuid?.() === 0;
const runtimeDirOf = (server: TestServer) => String(server.logs.find((l) => l.msg === 'runtime files')?.dir);

describe.runIf(isRoot)('with --username nobody, the session user cannot redirect the root server', () => {
  let server: TestServer;
  const victim = `/tmp/rc-victim-${process.pid}`;
  beforeAll(async () => {
    server = await startServer({ args: ['--username', 'nobody', '--working-dir', '/tmp'] });
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(victim, { force: true });
  });

  it('cannot plant a link at a command file, a spill file or the rc file (issue 10, item 1)', async () => {
    writeFileSync(victim, 'precious\n', { mode: 0o644 });
    const dir = runtimeDirOf(server);
    const session = `${dir}/sessions/default`;
    const plant = await server.run(
      [
        `for n in 1 2 3; do ln -s ${victim} ${session}/command-$n.sh; done`,
        `now=$(date +%s%3N); for i in $(seq 0 50); do ln -s ${victim} ${session}/output-$((now+i))-1.log; mkdir ${session}/output-$((now+i))-2.log; done`,
        `ln -sf ${victim} ${dir}/bashrc; touch ${dir}/x ${dir}/sessions/x`,
        `find ${dir} -type d -writable`,
      ].join('\n'),
    );
    expect(plant.content).toContain('Permission denied');
    // No directory of the server's is writable by the session user.
    expect(plant.content).not.toMatch(new RegExp(`^${dir}`, 'm'));
    // A long command (through a file), a long output (spilled), and a shell restart (rc file).
    const long = await server.run(`: ${'x'.repeat(5000)}\necho long-ok`);
    expect(long.content.trim()).toBe('long-ok');
    const spilled = await server.run('seq 1 20000');
    expect(spilled.meta!.full_output_path).toMatch(new RegExp(`^${session}/`));
    await server.run('exit');
    expect((await server.run('whoami')).content.trim()).toBe('nobody');
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(statSync(victim).uid).toBe(0);
    expect(statSync(dir).uid).toBe(0);
    expect(statSync(session).uid).toBe(0);
  });

  it('the server stays root-owned where it must, and `..` and `.` are not session names (item 2)', async () => {
    for (const name of ['..', '.', '.hidden', 'a/b']) {
      const { status, body } = await server.execute({ action: 'run', args: { command: 'true', session: name } });
      expect(status, name).toBe(400);
      expect(body.error.message).toContain('action.args.session');
    }
    const dir = runtimeDirOf(server);
    expect(statSync(dir).uid).toBe(0);
    expect(statSync(`${dir}/sessions`).uid).toBe(0);
    const res = await fetch(`${server.url}/sessions/..`, { method: 'DELETE', headers: { 'x-session-api-key': 'test-key-1234' } });
    expect([400, 404]).toContain(res.status);
    expect(statSync(`${dir}/sessions`).uid).toBe(0);
  });
});

describe('a program in the session', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ env: { NO_CHANGE_TIMEOUT_SECONDS: '30' } });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('cannot find the mark nonce, so cannot forge a completion (item 5)', async () => {
    // What the attack did: read the rc file named on the shell's command line, take the nonce,
    // print a completion mark, keep running.
    const forge = [
      `rc=$(tr '\\0' '\\n' </proc/$$/cmdline | grep -A1 -- --rcfile | tail -1)`,
      `cat "$rc" /proc/$$/environ /proc/$PPID/cmdline /proc/$PPID/environ 2>/dev/null | tr '\\0' '\\n' | grep -ao '6973;[0-9a-f]\\{16,\\}' | sort -u > /tmp/rc-nonces.$$`,
      `for n in $(cut -d';' -f2 /tmp/rc-nonces.$$) deadbeef; do printf '\\033]6973;%s;P;0;\\037/\\007' "$n"; printf '\\033]6973;%s;P;0;\\037/\\007' "$n" >/dev/tty; done`,
      `wc -l < /tmp/rc-nonces.$$; rm -f /tmp/rc-nonces.$$`,
      'sleep 2; echo after-sleep; exit_with() { return $1; }; exit_with 7',
    ].join('\n');
    const started = Date.now();
    const obs = await server.run(forge, { blocking: true });
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
    expect(obs.content).toMatch(/^0$/m); // no nonce found anywhere
    expect(obs.content).toContain('after-sleep');
    expect(exitCodeOf(obs)).toBe(7);
    expect((await server.run('echo next')).content.trim()).toBe('next');
  });

  it('cannot hide the marks by redirecting stdout or stderr (item 7)', async () => {
    const session = 'redirected';
    const a = await server.run(`exec 2>/tmp/rc-err.$$.log`, { session });
    expect(exitCodeOf(a)).toBe(0);
    const b = await server.run('echo still-here; ls /nonexistent-path; false', { session });
    expect(exitCodeOf(b)).toBe(1);
    expect(b.content).toContain('still-here');
    const c = await server.run('exec >/dev/null', { session });
    expect(exitCodeOf(c)).toBe(0);
    const d = await server.run('cd /; (exit 4)', { session });
    expect(exitCodeOf(d)).toBe(4);
    expect(d.extras.metadata.working_dir).toBe('/');
    // The prompt (which carries the nonce) never went into the file stderr pointed at.
    const e = await server.run('exec >/dev/tty 2>/dev/tty; cat /tmp/rc-err.$$.log; rm -f /tmp/rc-err.$$.log', { session });
    expect(e.content).toContain('No such file or directory');
    expect(e.content).not.toContain('6973');
  });

  it('C-c twice ends a foreground program that ignores SIGINT, and its whole group (items 7, 11)', async () => {
    const marker = `sleep 1000.${process.pid}1`;
    try {
      const session = 'trapped';
      const started = await server.run(`trap '' INT; bash -c 'for i in 1 2 3 4 5 6 7 8; do ${marker} & done; ${marker}'`, { session }, 1);
      expect(exitCodeOf(started)).toBe(-1);
      expect(processesWith(marker).length).toBe(9);
      const once = await server.execute({ action: 'run', args: { command: 'C-c', is_input: true, session }, timeout: 1 });
      expect(exitCodeOf(once.body)).toBe(-1); // ignored
      const twice = await server.execute({ action: 'run', args: { command: 'C-c', is_input: true, session }, timeout: 10 });
      expect(exitCodeOf(twice.body)).not.toBe(-1);
      expect(twice.body.extras.metadata.suffix).toContain('CTRL+C was sent');
      expect(await goneWithin(marker, 3000)).toBe(true);
      expect((await server.run('trap - INT; echo usable', { session })).content.trim()).toBe('usable');
    } finally {
      killAll(marker);
    }
  });

  it('C-c twice on a builtin loop that traps SIGINT restarts the shell', async () => {
    const session = 'looping';
    const started = await server.run(`trap '' INT; while :; do :; done`, { session }, 1);
    expect(exitCodeOf(started)).toBe(-1);
    await server.execute({ action: 'run', args: { command: 'C-c', is_input: true, session }, timeout: 1 });
    const twice = await server.execute({ action: 'run', args: { command: 'C-c', is_input: true, session }, timeout: 10 });
    expect(exitCodeOf(twice.body)).not.toBe(-1);
    expect(twice.body.extras.metadata.suffix).toContain('the session was restarted');
    expect((await server.run('echo fresh', { session })).content.trim()).toBe('fresh');
  });

  it('a fork bomb in the foreground is gone after C-c (item 11)', async () => {
    const marker = `sleep 1000.${process.pid}2`;
    try {
      const session = 'bomb';
      const bomb = `bash -c 'b() { if [ $1 -gt 0 ]; then b $(($1-1)) & b $(($1-1)); else ${marker}; fi; }; b 7'`;
      const started = await server.run(bomb, { session }, 2);
      expect(exitCodeOf(started)).toBe(-1);
      expect(processesWith(marker).length).toBeGreaterThan(50);
      const stop = await server.execute({ action: 'run', args: { command: 'C-c', is_input: true, session }, timeout: 10 });
      expect(exitCodeOf(stop.body)).not.toBe(-1);
      expect(await goneWithin(marker, 3000)).toBe(true);
    } finally {
      killAll(marker);
    }
  });

  it('a long command whose file cannot be written is refused and leaves the session usable (item 7)', async () => {
    // A path the server cannot create: the session's directory is gone (as on a full or broken disk).
    const session = 'nofile';
    expect(exitCodeOf(await server.run('true', { session }))).toBe(0);
    const dir = `${runtimeDirOf(server)}/sessions/${session}`;
    rmSync(dir, { recursive: true });
    try {
      const obs = (await server.execute({ action: 'run', args: { command: `: ${'y'.repeat(5000)}`, session } })).body;
      expect(obs.observation).toBe('error');
      expect(obs.extras.error_id).toBe('command_not_written');
      const next = await server.run('echo idle-and-usable', { session });
      expect(next.content.trim()).toBe('idle-and-usable');
    } finally {
      if (!existsSync(dir)) await server.run(`mkdir -m 711 ${dir}`);
    }
  });
});

describe('ending a session or the server ends everything it started (item 11)', () => {
  const marker = `sleep 1000.${process.pid}3`;
  afterEach(() => killAll(marker));
  const escapees = [
    `setsid ${marker} &`,
    `nohup setsid bash -c '${marker}' >/dev/null 2>&1 &`,
    `(setsid ${marker} &)`,
    `( ( ${marker} & ) & )`,
  ].join('\n');

  it('DELETE /sessions/{name} ends setsid, nohup and double-forked processes', async () => {
    const server = await startServer();
    try {
      await server.run(escapees, { session: 'daemons' });
      await new Promise((r) => setTimeout(r, 300));
      expect(processesWith(marker).length).toBe(4);
      const res = await fetch(`${server.url}/sessions/daemons`, { method: 'DELETE', headers: { 'x-session-api-key': 'test-key-1234' } });
      expect(res.status).toBe(200);
      expect(await goneWithin(marker, 3000)).toBe(true);
    } finally {
      await server.stop();
    }
  });

  it('SIGTERM to the server ends them too, and `exit` in the shell ends what it started', async () => {
    const server = await startServer();
    try {
      await server.run(escapees, { session: 'a' });
      await server.run(escapees);
      await new Promise((r) => setTimeout(r, 300));
      expect(processesWith(marker).length).toBe(8);
      const exited = await server.run('exit 0', { session: 'a' });
      expect(exited.extras.metadata.suffix).toContain('restarted');
      await new Promise((r) => setTimeout(r, 500));
      expect(processesWith(marker).length).toBe(4); // the default session's are still there
      expect(await server.stop('SIGTERM')).toBe(0);
      expect(await goneWithin(marker, 3000)).toBe(true);
    } finally {
      await server.stop('SIGKILL');
    }
  });
});
