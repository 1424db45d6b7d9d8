// The `run` action over HTTP against a real server and real bash: PROTOCOL.md's run semantics.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { startServer, exitCodeOf, type TestServer } from '../helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server.stop();
});

let n = 0;
/** A fresh session per test so no test sees another's state. */
const session = () => `s${++n}`;

describe('exit codes and output', () => {
  it.each([
    ['true', 0],
    ['false', 1],
    ['ls /definitely/not/here', 2],
    ['no-such-command-xyz', 127],
    ['(exit 42)', 42],
  ])('%s exits %i', async (command, code) => {
    const obs = await server.run(command, { session: session() });
    expect(obs.observation).toBe('run');
    expect(exitCodeOf(obs)).toBe(code);
    expect(obs.success).toBe(code === 0);
    expect(obs.extras.metadata.suffix).toBe(`\n[The command completed with exit code ${code}.]`);
    expect(obs.extras.metadata.prefix).toBe('');
  });

  it('returns the output without echo, prompt or ANSI escapes', async () => {
    const obs = await server.run('echo hi; printf "\\033[1;31mred\\033[0m\\n"', { session: session() });
    expect(obs.content).toBe('hi\nred\n');
    expect(obs.extras.command).toBe('echo hi; printf "\\033[1;31mred\\033[0m\\n"');
    expect(obs.extras.hidden).toBe(false);
    expect(Number.isInteger(obs.extras.metadata.pid)).toBe(true);
    expect(obs.extras.metadata.username).toBeTypeOf('string');
    expect(obs.extras.metadata.hostname).toBeTypeOf('string');
  });

  it('keeps blank lines', async () => {
    const obs = await server.run('echo -e "a\\n\\n\\nz"', { session: session() });
    expect(obs.content).toBe('a\n\n\nz\n');
  });
});

describe('state persists between actions', () => {
  it('keeps cd and export', async () => {
    const s = session();
    const cd = await server.run('cd /usr/share', { session: s });
    expect(cd.extras.metadata.working_dir).toBe('/usr/share');
    await server.run('export GREETING="hello there"', { session: s });
    const obs = await server.run('pwd; echo "$GREETING"', { session: s });
    expect(obs.content).toBe('/usr/share\nhello there\n');
  });

  it('keeps functions and aliases', async () => {
    const s = session();
    await server.run('greet() { echo "hi $1"; }\nalias ll="echo listing"', { session: s });
    expect((await server.run('greet bob; ll', { session: s })).content).toBe('hi bob\nlisting\n');
  });
});

describe('multi-line commands run as one unit', () => {
  it('runs every line and reports the last exit code', async () => {
    const obs = await server.run('echo one\necho two\n(exit 3)', { session: session() });
    expect(obs.content).toBe('one\ntwo\n');
    expect(exitCodeOf(obs)).toBe(3);
  });

  it('runs a heredoc', async () => {
    const s = session();
    const obs = await server.run("cat > notes.txt <<'EOF'\nline $1\n  indented\nEOF\ncat notes.txt", { session: s });
    expect(obs.content).toBe('line $1\n  indented\n');
  });

  it('runs a nested loop', async () => {
    const obs = await server.run('for i in 1 2; do\n  for j in a b; do\n    echo "$i$j"\n  done\ndone', { session: session() });
    expect(obs.content).toBe('1a\n1b\n2a\n2b\n');
  });

  it('runs a command longer than a terminal line', async () => {
    const long = 'x'.repeat(20000);
    const obs = await server.run(`v='${long}'\necho \${#v}`, { session: session() });
    expect(obs.content).toBe('20000\n');
  });

  it('reports a syntax error instead of waiting for more input', async () => {
    const obs = await server.run('echo "unclosed', { session: session() });
    expect(exitCodeOf(obs)).toBe(2);
    expect(obs.content).toMatch(/unexpected EOF/);
  });
});

describe('large output', () => {
  it('keeps head and tail of 50,000 lines and writes the whole to a file', async () => {
    const obs = await server.run('seq 1 50000', { session: session() });
    const content: string = obs.content;
    expect(content.length).toBeLessThan(31000);
    expect(content.startsWith('1\n2\n3\n')).toBe(true);
    expect(content.endsWith('49999\n50000\n')).toBe(true);
    const path = /The whole output \(\d+ characters\) is in (\S+) /.exec(content)?.[1];
    expect(path).toBeTruthy();
    expect(obs.meta!.full_output_path).toBe(path);
    const whole = readFileSync(path!, 'utf8');
    expect(whole.split('\n').length).toBe(50001);
    expect(whole.startsWith('1\n2\n')).toBe(true);
    expect(whole.endsWith('50000\n')).toBe(true);
    expect(exitCodeOf(obs)).toBe(0);
  });
});

describe('meta: what the suffix says, as fields (issue 11)', () => {
  it('says still_running and refused in meta, keeps extras and the suffix as OpenHands has them', async () => {
    const s = session();
    const done = await server.run('echo hi', { session: s });
    expect(done.meta).toEqual({ still_running: false, refused: false });
    expect(Object.keys(done.extras).sort()).toEqual(['command', 'hidden', 'metadata']);
    expect(Object.keys(done.extras.metadata).sort()).toEqual(['exit_code', 'hostname', 'pid', 'prefix', 'py_interpreter_path', 'suffix', 'username', 'working_dir']);
    expect(Object.keys(done).sort()).toEqual(['content', 'extras', 'meta', 'observation', 'success']);

    const timedOut = await server.run('echo started; sleep 30', { session: s }, 1);
    expect(timedOut.meta).toEqual({ still_running: true, refused: false });
    expect(Object.keys(timedOut.extras).sort()).toEqual(['command', 'hidden', 'metadata']);

    const refused = await server.run('echo should-not-run', { session: s });
    expect(refused.meta).toEqual({ still_running: true, refused: true });
    expect(refused.extras.metadata.suffix).toBe(
      '\n[Your command "echo should-not-run" is NOT executed. The previous command is still running - You CANNOT send new commands until the ' +
        'previous command is completed. By setting `is_input` to `true`, you can interact with the current process: You may wait longer to ' +
        "see additional output by sending empty command '', send other commands to interact with the current process, send keys (\"C-c\", " +
        '"C-z", "C-d") to interrupt/kill the previous command before sending your new command, or use the timeout parameter in execute_bash ' +
        'for future commands.]',
    );

    const polled = await server.run('', { session: s }, 1);
    expect(polled.meta).toEqual({ still_running: true, refused: false });
    const interrupted = await server.run('C-c', { session: s, is_input: true });
    expect(interrupted.meta).toEqual({ still_running: false, refused: false });
  });

  it('says still_running for input sent while another request waits on the command, false once it completed', async () => {
    const s = session();
    const waiting = server.run('read line; echo "got $line"; sleep 30', { session: s, blocking: true }, 2);
    await new Promise((r) => setTimeout(r, 500));
    const input = await server.run('hello', { session: s, is_input: true });
    expect(input.meta).toEqual({ still_running: true, refused: false });
    const first = await waiting;
    expect(first.content).toContain('got hello');
    expect(first.meta).toEqual({ still_running: true, refused: false });
    const rest = server.run('', { session: s, blocking: true });
    await new Promise((r) => setTimeout(r, 500));
    const interrupt = await server.run('C-c', { session: s, is_input: true });
    expect(interrupt.meta).toEqual({ still_running: false, refused: false });
    expect((await rest).meta).toEqual({ still_running: false, refused: false });
  });
});

describe('interrupts and running commands', () => {
  it('refuses a new command while one runs, then C-c recovers with 130', async () => {
    const s = session();
    const first = await server.run('echo started; sleep 30', { session: s }, 1);
    expect(exitCodeOf(first)).toBe(-1);
    expect(first.content).toBe('started\n');
    expect(first.extras.metadata.suffix).toMatch(/^\n\[The command timed out after 1 seconds\./);
    const refused = await server.run('echo should-not-run', { session: s });
    expect(exitCodeOf(refused)).toBe(-1);
    expect(refused.extras.metadata.prefix).toBe('[Below is the output of the previous command.]\n');
    expect(refused.extras.metadata.suffix).toContain('The previous command is still running');
    const interrupted = await server.run('C-c', { session: s, is_input: true });
    expect(exitCodeOf(interrupted)).toBe(130);
    expect(interrupted.extras.metadata.suffix).toBe('\n[The command completed with exit code 130. CTRL+C was sent.]');
    const after = await server.run('echo recovered', { session: s });
    expect(after.content).toBe('recovered\n');
    expect(after.content).not.toContain('should-not-run');
  });

  it('continues a hard-timed-out loop with empty commands until it completes', async () => {
    const s = session();
    const first = await server.run('for i in 1 2 3 4 5 6; do echo tick $i; sleep 0.5; done', { session: s }, 1);
    expect(exitCodeOf(first)).toBe(-1);
    expect(first.content).toMatch(/^tick 1\n/);
    let seen = first.content;
    let last = first;
    for (let i = 0; i < 20 && exitCodeOf(last) === -1; i++) {
      last = await server.run('', { session: s }, 1);
      expect(last.extras.metadata.prefix).toBe('[Below is the output of the previous command.]\n');
      seen += last.content;
    }
    expect(exitCodeOf(last)).toBe(0);
    expect(seen).toBe([1, 2, 3, 4, 5, 6].map((i) => `tick ${i}\n`).join(''));
  });

  it('does not run input typed into a command that never read it once the prompt is back', async () => {
    const session = 'typeahead';
    const marker = `/tmp/rc-typeahead-${process.pid}`;
    const started = await server.run('sleep 1', { session }, 0.2);
    expect(exitCodeOf(started)).toBe(-1);
    // sleep reads nothing: the line, and a C-d, sit in the terminal until sleep ends.
    await server.execute({ action: 'run', args: { command: `touch ${marker}`, is_input: true, session }, timeout: 0.2 });
    await server.execute({ action: 'run', args: { command: 'C-d', is_input: true, session }, timeout: 0.2 });
    const done = await server.run('', { session, blocking: true });
    expect(exitCodeOf(done)).toBe(0);
    const next = await server.run(`echo $$; test -e ${marker} && echo ran || echo not-run`, { session });
    expect(next.content.trim().split('\n')[1]).toBe('not-run');
    expect(next.extras.metadata.suffix).not.toContain('restarted');
  });

  it('delivers C-c at once to a command another request is still waiting on', async () => {
    const s = session();
    const waiting = server.run('echo begun; sleep 30; echo not-reached', { session: s, blocking: true });
    await new Promise((r) => setTimeout(r, 500));
    const started = Date.now();
    const input = await server.run('C-c', { session: s, is_input: true });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(exitCodeOf(input)).toBe(130);
    expect(input.content).toBe('');
    const first = await waiting;
    expect(exitCodeOf(first)).toBe(130);
    expect(first.content).toContain('begun');
    expect(first.content).not.toContain('not-reached');
    expect(first.extras.metadata.suffix).toBe('\n[The command completed with exit code 130. CTRL+C was sent.]');
  });

  it('says so when there is nothing to continue or interact with', async () => {
    const s = session();
    const empty = await server.run('', { session: s });
    expect(empty).toMatchObject({ observation: 'error', content: 'ERROR: No previous running command to retrieve logs from.' });
    const input = await server.run('hello', { session: s, is_input: true });
    expect(input).toMatchObject({ observation: 'error', content: 'ERROR: No previous running command to interact with.' });
  });

  it('returns at once for a background job', async () => {
    const started = Date.now();
    const obs = await server.run('sleep 100 &', { session: session() });
    expect(exitCodeOf(obs)).toBe(0);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe('the shell going away', () => {
  it('reports exit 3 and gives a fresh usable session', async () => {
    const s = session();
    await server.run('cd /tmp; export MARK=set', { session: s });
    const obs = await server.run('exit 3', { session: s });
    expect(exitCodeOf(obs)).toBe(3);
    expect(obs.extras.metadata.suffix).toMatch(/exited with status 3, so the session was restarted/);
    const fresh = await server.run('echo "[${MARK:-unset}]"', { session: s });
    expect(fresh.content).toBe('[unset]\n');
    expect(exitCodeOf(fresh)).toBe(0);
  });

  it('keeps all of the output a command printed just before the shell exited', async () => {
    // The last lines were lost about one time in five when the pty's reader saw the hang-up
    // before the kernel had passed them on (server/shell/hangup.ts).
    const s = session();
    for (let i = 0; i < 30; i++) {
      const obs = await server.run(`seq 1 3000; echo "end of run ${i}"; exit 3`, { session: s });
      expect(exitCodeOf(obs)).toBe(3);
      expect(obs.content).toMatch(new RegExp(`^1\\n2\\n[^]*\\n2999\\n3000\\nend of run ${i}\\n`));
    }
  });

  it('survives set -euo pipefail and a failing command', async () => {
    const s = session();
    const set = await server.run('set -euo pipefail', { session: s });
    expect(exitCodeOf(set)).toBe(0);
    expect(exitCodeOf(await server.run('echo $UNSET_VAR_ZZ', { session: s }))).not.toBe(0);
    const again = await server.run('echo still here', { session: s });
    expect(again.content).toBe('still here\n');
  });

  it('keeps working under set -u without the shell exiting', async () => {
    const s = session();
    await server.run('set -u', { session: s });
    expect((await server.run('false', { session: s })).extras.metadata.exit_code).toBe(1);
    expect((await server.run('echo ok', { session: s })).content).toBe('ok\n');
  });

  it('restarts after the shell is killed', async () => {
    const s = session();
    const obs = await server.run('kill -9 $$', { session: s });
    expect(exitCodeOf(obs)).toBe(137);
    expect((await server.run('echo back', { session: s })).content).toBe('back\n');
  });
});

describe('completion cannot be confused', () => {
  it('ignores a fake mark printed by a program', async () => {
    const s = session();
    const obs = await server.run("printf '\\033]6973;0123456789abcdef;0;\\037/\\007'; sleep 0.3; echo after", { session: s });
    expect(obs.content).toContain('after');
    expect(exitCodeOf(obs)).toBe(0);
  });

  it('survives random binary output', async () => {
    const s = session();
    const obs = await server.run('head -c 200000 /dev/urandom; echo; echo done', { session: s });
    expect(obs.content.endsWith('done\n')).toBe(true);
    expect(exitCodeOf(obs)).toBe(0);
    expect((await server.run('echo next', { session: s })).content).toBe('next\n');
  });

  it('leaves no prompt text after a virtualenv-style activate rewrites PS1 and PATH', async () => {
    const s = session();
    await server.run(
      'mkdir -p venv/bin && printf "#!/bin/sh\\necho fake-python\\n" > venv/bin/python && chmod +x venv/bin/python\n' +
        "printf 'PS1=\"(venv) ${PS1:-}\"\\nexport PATH=\"$PWD/venv/bin:$PATH\"\\nhash -r\\n' > venv/bin/activate",
      { session: s },
    );
    const activated = await server.run('source venv/bin/activate', { session: s });
    expect(activated.extras.metadata.py_interpreter_path).toMatch(/\/venv\/bin\/python$/);
    const obs = await server.run('echo in-venv; python', { session: s });
    expect(obs.content).toBe('in-venv\nfake-python\n');
  });

  it('still completes, with the right exit codes, after PROMPT_COMMAND is replaced', async () => {
    const s = session();
    await server.run('PROMPT_COMMAND="true"', { session: s });
    const obs = await server.run('cd /usr; echo moved; (exit 4)', { session: s });
    expect(obs.content).toBe('moved\n');
    expect(exitCodeOf(obs)).toBe(4);
    expect(obs.extras.metadata.working_dir).toBe('/usr');
    expect((await server.run('echo next', { session: s })).content).toBe('next\n');
  });
});

describe('sessions', () => {
  it('runs 20 sessions in parallel', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => server.run(`sleep 0.5; echo session-${i}`, { session: `par${i}` })),
    );
    results.forEach((obs, i) => expect(obs.content).toBe(`session-${i}\n`));
  });

  it('keeps two sessions isolated', async () => {
    await server.run('cd /usr', { session: 'iso-a' });
    await server.run('cd /etc', { session: 'iso-b' });
    expect((await server.run('pwd', { session: 'iso-a' })).content).toBe('/usr\n');
    expect((await server.run('pwd', { session: 'iso-b' })).content).toBe('/etc\n');
  });

  it('runs a static command in a throwaway session in the given cwd', async () => {
    const obs = await server.run('pwd; cd /', { is_static: true, cwd: '/usr/bin' });
    expect(obs.content).toBe('/usr/bin\n');
    expect((await server.run('pwd', { session: 'iso-a' })).content).toBe('/usr\n');
  });

  it('refuses a static command whose cwd is not a directory, with a clear error', async () => {
    const obs = (await server.execute({ action: 'run', args: { command: 'pwd', is_static: true, cwd: '/no/such/dir' } })).body;
    expect(obs.observation).toBe('error');
    expect(obs.extras.error_id).toBe('bad_cwd');
    expect(obs.content).toContain('/no/such/dir is not a directory');
  });
});
