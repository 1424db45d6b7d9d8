// The cell driver (server/ipython/driver.py) on its own, through its protocol, on real
// interpreters: /usr/bin/python3 (Debian, no IPython: plain mode) and python3 on PATH (with
// IPython: IPython mode). What a user would see: output, values, tracebacks, interrupts, speed.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DRIVER, DriverProcess, cachedVenv, matplotlibVenv, pythonCan, quietEnv, sleep, type Ready } from './driver-process.js';

const CI = process.env.CI === 'true';
const PLAIN = '/usr/bin/python3';
const IPYTHON = 'python3';
const hasPlain = pythonCan(PLAIN, 'import sys') && !pythonCan(PLAIN, 'import IPython');
const hasIPython = pythonCan(IPYTHON, 'import IPython');
const SETUP = 'apt-get install -y python3 && python3 -m pip install ipython';

for (const [what, ok] of [
  [`${PLAIN} without IPython`, hasPlain],
  [`python3 on PATH with IPython`, hasIPython],
] as const) {
  if (ok) continue;
  if (CI) throw new Error(`The driver tests need ${what} (CI=true: a missing tool is a failure). Set up with: ${SETUP}`);
  console.warn(`\n*** SKIPPING the ipython driver tests that need ${what}. Set up with: ${SETUP} ***\n`);
}

const interpreters = [
  { mode: 'plain', python: PLAIN, available: hasPlain },
  { mode: 'IPython', python: IPYTHON, available: hasIPython },
] as const;

/** A cell's text with the traceback header of either mode reduced to its last line. */
const lastLine = (text: string) => text.trimEnd().split('\n').pop() ?? '';

for (const { mode, python, available } of interpreters) {
  describe.runIf(available)(`the driver in ${mode} mode (${python})`, () => {
    let driver: DriverProcess;
    let ready: Ready;
    beforeAll(async () => {
      ({ driver, ready } = await DriverProcess.start(python));
    });
    afterAll(async () => {
      await driver?.stop();
    });
    afterEach(() => {
      // Between cells the driver prints nothing of its own.
      expect(Buffer.concat(driver.stray).toString('utf8')).toBe('');
      expect(driver.others).toEqual([]);
    });

    it('says ready with its pid, its python and whether IPython is used', () => {
      expect(ready.pid).toBe(driver.pid);
      expect(ready.ipython).toBe(mode === 'IPython');
      expect(ready.version).toMatch(/^3\.\d+\.\d+/);
      expect(ready.python).toMatch(/python3/);
    });

    it('keeps variables and imports between cells, and shows the last expression (None shows nothing)', async () => {
      expect((await driver.run('x = 41\nimport json')).text).toBe('');
      expect((await driver.run('x + 1')).text).toBe('42\n');
      expect((await driver.run('json.dumps({"a": x})')).text).toBe(`'{"a": 41}'\n`);
      expect((await driver.run('None')).text).toBe('');
      expect((await driver.run('print("printed")\nNone')).text).toBe('printed\n');
      expect((await driver.run('y = [1, 2]\ny.append(3)')).text).toBe('');
      expect((await driver.run('__name__')).text).toBe("'__main__'\n");
      // A class defined in a cell pickles: __main__ is the cells' namespace.
      expect((await driver.run('import pickle\nclass Point:\n    pass\ntype(pickle.loads(pickle.dumps(Point()))).__name__')).text).toBe("'Point'\n");
      // No Out[n]: prompt in either mode.
      expect((await driver.run('"a\\nb"')).text).toBe("'a\\nb'\n");
    });

    it('keeps stdout, stderr and bytes in the order they were written', async () => {
      const cell = await driver.run(
        [
          'import sys',
          'for i in range(3):',
          '    print("out", i)',
          '    print("err", i, file=sys.stderr)',
          '    sys.stdout.buffer.write(b"bytes %d\\n" % i)',
          '_ = sys.stderr.write("last\\n")',
        ].join('\n'),
      );
      expect(cell.text).toBe('out 0\nerr 0\nbytes 0\nout 1\nerr 1\nbytes 1\nout 2\nerr 2\nbytes 2\nlast\n');
      expect(cell.error).toBeNull();
    });

    it('keeps the order of output from a subprocess, os.system and a print', async () => {
      const cell = await driver.run('import os, subprocess\nprint("a")\nsubprocess.run(["echo", "b"])\nprint("c")\nos.system("echo d")\nprint("e")');
      expect(cell.text).toBe('a\nb\nc\nd\ne\n');
    });

    it('shows a traceback of the cell\'s own lines as output, and names the exception in done.error', async () => {
      const cell = await driver.run('def f():\n    raise ValueError("boom")\n\nf()');
      expect(cell.error).toBe('ValueError');
      expect(lastLine(cell.text)).toBe('ValueError: boom');
      expect(cell.text).toContain('raise ValueError("boom")');
      expect(cell.text).not.toContain('driver.py');
      expect(cell.text).not.toContain('\x1b[');
      if (mode === 'plain') {
        expect(cell.text).toMatch(/^Traceback \(most recent call last\):\n {2}File "<cell-\d+>", line 4, in <module>\n {4}f\(\)\n/);
      } else {
        expect(cell.text).toMatch(/Cell In\[\d+\], line 4/);
      }
      expect((await driver.run('"still here"')).text).toBe("'still here'\n");
    });

    it('reports a SyntaxError without running any of the cell', async () => {
      const cell = await driver.run('ran = True\ndef f(:\n    pass');
      expect(cell.error).toBe('SyntaxError');
      expect(cell.text).toContain('SyntaxError');
      expect(cell.text).toContain('def f(:');
      expect((await driver.run('"ran" in dir()')).text).toBe('False\n');
    });

    it('reports SystemExit like an exception, and the interpreter stays', async () => {
      const cell = await driver.run('import sys\nsys.exit(3)');
      expect(cell.error).toBe('SystemExit');
      expect(cell.text).toContain('SystemExit: 3');
      expect(cell.text).not.toContain('To exit');
      expect((await driver.run('import os; os.getpid()')).text).toBe(`${driver.pid}\n`);
      await driver.run('exit()');
      expect((await driver.run('1 + 1')).text).toBe('2\n');
    });

    it('streams: a print followed by a sleep arrives long before the cell ends', async () => {
      // The sleep before the print lets the flush at the cell's start pass: this one is periodic.
      const cell = await driver.run('import time\ntime.sleep(0.3)\nprint("early")\ntime.sleep(2)\nprint("late")');
      expect(cell.text).toBe('early\nlate\n');
      const first = cell.arrivals.find((a) => a.bytes.includes('early'))!;
      console.log(`[driver ${mode}] a print before a 2 s sleep arrived ${(first.ms - 300).toFixed(0)} ms after it was printed`);
      expect(first.ms - 300).toBeLessThan(250);
      expect(cell.durationMs).toBeGreaterThan(2200);
    });

    it('turns SIGINT into KeyboardInterrupt in a busy loop and in time.sleep, and stays usable', async () => {
      for (const body of ['while True:\n    pass', 'import time\ntime.sleep(30)']) {
        const running = driver.run(`print("started", flush=True)\n${body}`);
        await driver.waitForOutput('started');
        await sleep(100);
        driver.sigint();
        const cell = await running;
        expect(cell.error).toBe('KeyboardInterrupt');
        expect(lastLine(cell.text)).toMatch(/^KeyboardInterrupt:? ?$/);
        expect(cell.durationMs).toBeLessThan(5000);
      }
      expect((await driver.run('import os; os.getpid()')).text).toBe(`${driver.pid}\n`);
    });

    it('ignores SIGINT between cells', async () => {
      await driver.run('n = 7');
      for (let i = 0; i < 3; i++) {
        driver.sigint();
        await sleep(50);
      }
      await sleep(200);
      const cell = await driver.run('n * 6');
      expect(cell.text).toBe('42\n');
      expect(cell.error).toBeNull();
    });

    it('never loses a cell to a storm of SIGINTs: each ends with its value or a KeyboardInterrupt', async () => {
      const storm = setInterval(() => driver.sigint(), 1);
      const outcomes: Record<string, number> = {};
      try {
        for (let i = 0; i < 300; i++) {
          const cell = await driver.run('sum(range(3000))', { timeoutMs: 10_000 });
          outcomes[String(cell.error)] = (outcomes[String(cell.error)] ?? 0) + 1;
          if (cell.error === null) expect(cell.text).toBe('4498500\n');
          else {
            expect(cell.error).toBe('KeyboardInterrupt');
            expect(cell.text).toContain('KeyboardInterrupt');
            expect(cell.text).not.toContain('race condition');
          }
        }
      } finally {
        clearInterval(storm);
      }
      console.log(`[driver ${mode}] 300 cells under a SIGINT every ms: ${JSON.stringify(outcomes)}`);
      await sleep(50);
      expect((await driver.run('import os; os.getpid()')).text).toBe(`${driver.pid}\n`);
    });

    it('lets a cell handle SIGINT itself, then restores its own handling for the next cell', async () => {
      const handling = driver.run(
        [
          'import signal, time',
          'hit = []',
          '_ = signal.signal(signal.SIGINT, lambda *a: hit.append(1))',
          'print("started", flush=True)',
          'while not hit:',
          '    time.sleep(0.01)',
          'print("handled it")',
        ].join('\n'),
      );
      await driver.waitForOutput('started');
      driver.sigint();
      const handled = await handling;
      expect(handled.text).toBe('started\nhandled it\n');
      expect(handled.error).toBeNull();

      const running = driver.run('print("started", flush=True)\nimport time\ntime.sleep(30)');
      await driver.waitForOutput('started');
      driver.sigint();
      const cell = await running;
      expect(cell.error).toBe('KeyboardInterrupt');
      expect(cell.text).toContain('KeyboardInterrupt');
    });

    it('enters the cwd it is given, keeps a cell\'s own chdir otherwise, and says so when it cannot', async () => {
      const dir = realpathSync(mkdtempSync(join(tmpdir(), 'rc-driver-cwd-')));
      try {
        expect((await driver.run('import os; os.getcwd()', { cwd: dir })).text).toBe(`'${dir}'\n`);
        await driver.run('os.chdir("/")');
        expect((await driver.run('os.getcwd()')).text).toBe(`'/'\n`);
        const cell = await driver.run('print("ran anyway")', { cwd: `${dir}/missing` });
        expect(cell.text).toBe(`cannot enter ${dir}/missing (No such file or directory); the cell runs in /\nran anyway\n`);
        expect(cell.error).toBeNull();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('imports modules from its current directory, as an interactive python does', async () => {
      const dir = realpathSync(mkdtempSync(join(tmpdir(), 'rc-driver-import-')));
      try {
        writeFileSync(join(dir, 'helper_for_cells.py'), 'ANSWER = 42\n');
        expect((await driver.run('import helper_for_cells\nhelper_for_cells.ANSWER', { cwd: dir })).text).toBe('42\n');
        expect((await driver.run('import sys\nsys.argv')).text).toBe("['']\n");
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('survives a cell that closes fd 1, redirects it, replaces sys.stdout or closes it', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'rc-driver-fd-'));
      try {
        const cases: [string, string][] = [
          // What was printed while fd 1 was closed comes out once the driver has put fd 1 back.
          ['import os\nos.close(1)\nprint("printed blind")', 'printed blind\n'],
          // A redirect of fd 1 gets what was printed into it; the next cell has the pipe again.
          [`import os\nf = open("${dir}/out.txt", "w")\nos.dup2(f.fileno(), 1)\nprint("to the file")`, ''],
          ['import os, sys\nsys.stdout = open(os.devnull, "w")\nprint("lost")', ''],
          ['import sys\nsys.stdout.close()', ''],
          ['import sys\nsys.stderr.close()', ''],
          ['import sys\nsys.stderr = None', ''],
        ];
        for (const [code, expected] of cases) {
          expect((await driver.run(code)).text, code).toBe(expected);
          const next = await driver.run('import sys\nprint("back")\nprint("err", file=sys.stderr)');
          expect(next.text, code).toBe('back\nerr\n');
        }
        expect(readFileSync(`${dir}/out.txt`, 'utf8')).toBe('to the file\n');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('passes binary and invalid UTF-8 through as bytes', async () => {
      const cell = await driver.run('import sys\nprint("a")\nsys.stdout.buffer.write(bytes(range(256)))\nprint("b")\nprint("\\udcff")');
      const expected = Buffer.concat([Buffer.from('a\n'), Buffer.from(Array.from({ length: 256 }, (_, i) => i)), Buffer.from('b\n'), Buffer.from([0xff, 0x0a])]);
      expect(cell.output.equals(expected)).toBe(true);
    });

    it('reports RecursionError and restores a lowered recursion limit', async () => {
      const cell = await driver.run('def r():\n    r()\nr()');
      expect(cell.error).toBe('RecursionError');
      await driver.run('import sys\nsys.setrecursionlimit(40)');
      expect((await driver.run('sys.getrecursionlimit() >= 1000')).text).toBe('True\n');
    });

    it('a fork that comes back from the cell ends there: one answer, from the parent', async () => {
      const cell = await driver.run('import os\npid = os.fork()\nif pid == 0:\n    print("child")\nelse:\n    os.waitpid(pid, 0)\n    print("parent")');
      expect(cell.text).toBe('child\nparent\n');
      expect((await driver.run('os.getpid()')).text).toBe(`${driver.pid}\n`);
    });

    it('outlives threads that print forever', async () => {
      const { driver: d } = await DriverProcess.start(python);
      try {
        await d.run('import threading, time\ndef spam():\n    while True:\n        print("spam")\n        time.sleep(0.01)\nthreading.Thread(target=spam, daemon=True).start()');
        for (let i = 0; i < 5; i++) {
          const cell = await d.run(`print("cell ${i}")\n${i}`);
          expect(cell.text).toContain(`cell ${i}\n`);
          expect(cell.error).toBeNull();
        }
      } finally {
        await d.stop();
      }
    });
  });
}

describe.runIf(hasPlain)('plain mode only', () => {
  it('explains that ! and % lines need IPython', async () => {
    const { driver } = await DriverProcess.start(PLAIN);
    try {
      for (const code of ['!ls', 'x = 1\n  %pip install requests']) {
        const cell = await driver.run(code);
        expect(cell.error).toBe('SyntaxError');
        expect(lastLine(cell.text)).toBe(`SyntaxError: \`!\` and \`%\` lines need IPython, which this python (${PLAIN}) cannot import`);
      }
      // A % that is Python (the modulo operator, continued) is not mistaken for a magic.
      expect((await driver.run('(7\n % 4)')).text).toBe('3\n');
    } finally {
      await driver.stop();
    }
  });
});

describe.runIf(hasIPython)('IPython mode only', () => {
  let driver: DriverProcess;
  beforeAll(async () => {
    ({ driver } = await DriverProcess.start(IPYTHON));
  });
  afterAll(async () => {
    await driver?.stop();
  });

  it('runs !cmd, %pip and %cd, and other magics', async () => {
    const echo = await driver.run('!echo hello from the shell');
    expect(echo.text.replace(/\r/g, '')).toBe('hello from the shell\n');
    const pip = await driver.run('%pip --version');
    expect(pip.text).toMatch(/^pip \d+/);
    const dir = realpathSync(mkdtempSync(join(tmpdir(), 'rc-driver-cd-')));
    try {
      await driver.run(`%cd ${dir}`);
      expect((await driver.run('import os; os.getcwd()')).text).toBe(`'${dir}'\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect((await driver.run('%time 1 + 1')).text).toMatch(/Wall time/);
    const unknown = await driver.run('%no_such_magic');
    expect(unknown.error).toBe('UsageError');
  });

  it('keeps what IPython says while it starts (an unwritable HOME, a foreign virtualenv) out of the output', async () => {
    const env = quietEnv({ HOME: '/nonexistent/home', VIRTUAL_ENV: '/nonexistent/venv' });
    const { driver: d, ready } = await DriverProcess.start(IPYTHON, { env });
    try {
      expect(ready.ipython).toBe(true);
      await sleep(200);
      expect((await d.run('print("only this")')).text).toBe('only this\n');
      expect(Buffer.concat(d.stray).length).toBe(0);
      expect(d.stderr).toContain('not a writable location');
    } finally {
      await d.stop();
    }
  });

  it('shows a multi-line value and a display() call as text, with no prompts', async () => {
    expect((await driver.run('list(range(3))')).text).toBe('[0, 1, 2]\n');
    expect((await driver.run('from IPython.display import display\ndisplay("shown")\n5')).text).toBe("'shown'\n5\n");
    expect((await driver.run('1;')).text).toBe('');
  });
});

// IPython's API moved between majors (colors, display hooks, run_code): 7 on Python 3.7, and 9.
describe('other IPython majors (cached venvs)', () => {
  const py37 = '/root/.pyenv/versions/3.7.16/bin/python3';
  const majors = [
    { major: 7, python: py37, packages: ['ipython>=7,<8'], needs: pythonCan(py37, 'pass') },
    { major: 9, python: IPYTHON, packages: ['ipython>=9,<10'], needs: pythonCan(IPYTHON, 'import sys; assert sys.version_info >= (3, 11)') },
  ];
  for (const { major, python, packages, needs } of majors) {
    it.runIf(needs)(`IPython ${major}: values without prompts, plain tracebacks, !cmd, C-c`, async (ctx) => {
      let venvPython: string;
      try {
        venvPython = cachedVenv(python, `ipython${major}-${major === 7 ? '3.7' : '3.11'}`, packages, `import IPython; assert IPython.version_info[0] == ${major}`);
      } catch (error) {
        if (CI) throw error;
        console.warn(`\n*** SKIPPING the IPython ${major} driver test: ${(error as Error).message.slice(0, 300)}\n    Needs: python3 -m venv, and pip reaching the package index ***\n`);
        return ctx.skip();
      }
      const { driver, ready } = await DriverProcess.start(venvPython);
      try {
        expect(ready.ipython).toBe(true);
        expect((await driver.run('x = 6\nx * 7')).text).toBe('42\n');
        const failed = await driver.run('1/0');
        expect(failed.error).toBe('ZeroDivisionError');
        expect(lastLine(failed.text)).toBe('ZeroDivisionError: division by zero');
        expect(failed.text).not.toContain('\x1b[');
        expect((await driver.run('def f(:')).error).toBe('SyntaxError');
        expect((await driver.run('!echo shell')).text.replace(/\r/g, '')).toBe('shell\n');
        expect((await driver.run('from IPython.display import display\ndisplay("shown")')).text).toBe("'shown'\n");
        const running = driver.run('print("started", flush=True)\nimport time\ntime.sleep(30)');
        await driver.waitForOutput('started');
        driver.sigint();
        expect((await running).error).toBe('KeyboardInterrupt');
        expect((await driver.run('exit()\nx')).text).toBe('6\n');
        expect(Buffer.concat(driver.stray).toString('utf8')).toBe('');
      } finally {
        await driver.stop();
      }
    }, 600_000);
  }
});

describe('the protocol', () => {
  const python = hasIPython ? IPYTHON : PLAIN;

  it('keeps the control socket out of the cell\'s reach: not at fd 3, not inherited', async () => {
    const { driver } = await DriverProcess.start(python);
    try {
      const cell = await driver.run(
        [
          'import os, stat, subprocess',
          'print(subprocess.run(["/bin/sh", "-c", "ls /proc/$$/fd"], capture_output=True, text=True).stdout.split())',
          'try:',
          '    print(stat.S_ISSOCK(os.fstat(3).st_mode))',
          'except OSError as e:',
          '    print(e.strerror)',
        ].join('\n'),
      );
      expect(cell.text).toBe("['0', '1', '2']\nBad file descriptor\n");
    } finally {
      await driver.stop();
    }
  });

  it('exits (rather than hang) when a cell closed its control socket', async () => {
    const { driver } = await DriverProcess.start(python);
    await expect(driver.run('import os\nos.closerange(3, 65536)')).rejects.toThrow(/the driver ended/);
    expect((await driver.exited).code).toBe(3);
  });

  it('ends when the control socket closes (the server went away)', async () => {
    const { driver } = await DriverProcess.start(python);
    driver.closeControl();
    const ended = await Promise.race([driver.exited, sleep(5000).then(() => null)]);
    expect(ended).not.toBeNull();
    await driver.stop();
  });

  it('refuses a first line that is not hello, on the start-up stderr', async () => {
    const driver = DriverProcess.withHello(python, '{"op":"cell","id":1,"code":"1"}');
    const { code } = await driver.exited;
    expect(code).toBe(2);
    expect(driver.stderr).toContain('the first control line must be {"op":"hello","nonce":"<32 hex>"}');
  });

  it('answers a malformed control line with an error, and goes on', async () => {
    const { driver } = await DriverProcess.start(python);
    try {
      (driver.child.stdio[3] as import('node:net').Socket).write('not json\n{"op":"cell","id":"x","code":"1"}\n');
      expect((await driver.run('2 + 2')).text).toBe('4\n');
      expect(driver.others.map((m) => m.op)).toEqual(['error', 'error']);
      expect(String(driver.others[1].message)).toContain('integer id');
    } finally {
      await driver.stop();
    }
  });
});

/** Node reads from `go` to the end: the same way for a bare python and for a cell. */
async function barePythonMs(python: string, body: string): Promise<number> {
  const child = spawn(python, ['-c', `import sys\nsys.stdout.write("go\\n"); sys.stdout.flush()\n${body}`], { stdio: ['ignore', 'pipe', 'inherit'], env: quietEnv() });
  let start = -1;
  let bytes = 0;
  child.stdout.on('data', (chunk: Buffer) => {
    if (start < 0 && chunk.includes('go\n')) start = performance.now();
    bytes += chunk.length;
  });
  await new Promise((resolve) => child.on('close', resolve));
  return performance.now() - start;
}

async function cellMs(driver: DriverProcess, body: string): Promise<{ ms: number; bytes: number }> {
  const cell = await driver.run(`import sys\nsys.stdout.write("go\\n"); sys.stdout.flush()\n${body}`, { timeoutMs: 60_000 });
  const go = cell.arrivals.find((a) => a.bytes.includes('go\n'))!;
  return { ms: cell.durationMs - go.ms, bytes: cell.output.length };
}

describe.each(interpreters.filter((i) => i.available))('speed in $mode mode', ({ mode, python }) => {
  it('answers a 1 + 1 cell within the 5 ms (p50) a whole run_ipython round trip may take', async () => {
    const { driver } = await DriverProcess.start(python);
    try {
      const times: number[] = [];
      for (let i = 0; i < 200; i++) {
        const cell = await driver.run('1 + 1');
        expect(cell.text).toBe('2\n');
        times.push(cell.durationMs);
      }
      times.sort((a, b) => a - b);
      const p50 = times[100];
      console.log(`[driver ${mode}] 1 + 1: p50 ${p50.toFixed(2)} ms, p90 ${times[180].toFixed(2)} ms (200 cells)`);
      expect(p50).toBeLessThan(5);
    } finally {
      await driver.stop();
    }
  });

  const cases = [
    { name: 'one 10 MB print', body: 'print("x" * 10_000_000)', bytes: 10_000_004 },
    { name: '100,000 small prints', body: 'for i in range(100_000):\n    print(i)', bytes: 3 + 588_890 },
  ];
  for (const { name, body, bytes } of cases) {
    it(`${name}: at least half the speed of a bare python3 writing to a pipe`, async () => {
      const { driver } = await DriverProcess.start(python);
      try {
        let bare = Infinity;
        let ours = Infinity;
        for (let i = 0; i < 5; i++) {
          bare = Math.min(bare, await barePythonMs(python, body));
          const cell = await cellMs(driver, body);
          expect(cell.bytes).toBe(bytes);
          ours = Math.min(ours, cell.ms);
        }
        const mb = bytes / 1e6;
        console.log(
          `[driver ${mode}] ${name}: bare python ${bare.toFixed(1)} ms (${(mb / (bare / 1000)).toFixed(0)} MB/s), ` +
            `cell ${ours.toFixed(1)} ms (${(mb / (ours / 1000)).toFixed(0)} MB/s): ${((100 * bare) / ours).toFixed(0)}%`,
        );
        expect(bare / ours).toBeGreaterThanOrEqual(0.5);
      } finally {
        await driver.stop();
      }
    }, 120_000);
  }
});

describe('matplotlib (a cached venv)', () => {
  let venvPython: string | undefined;
  let sitePackages = '';
  beforeAll(() => {
    try {
      venvPython = matplotlibVenv(hasIPython ? IPYTHON : PLAIN);
      sitePackages = spawnSync(venvPython, ['-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'], { encoding: 'utf8' }).stdout.trim();
    } catch (error) {
      if (CI) throw error;
      console.warn(`\n*** SKIPPING the matplotlib driver tests: ${(error as Error).message.slice(0, 300)}\n    Needs: python3 -m venv, and pip reaching the package index ***\n`);
    }
  }, 600_000);

  const runs = [
    // The venv's own python: a session's activated virtualenv, plain mode (no IPython in it).
    { mode: 'plain', python: () => venvPython!, env: () => quietEnv() },
    // python3 with IPython, seeing the venv's packages.
    { mode: 'IPython', python: () => IPYTHON, env: () => quietEnv({ PYTHONPATH: sitePackages }), needs: hasIPython },
  ];
  for (const run of runs) {
    it(`returns every open figure as a PNG data: URL, closes them, and plt.show() says nothing (${run.mode})`, async (ctx) => {
      if (!venvPython || run.needs === false) return ctx.skip();
      const { driver, ready } = await DriverProcess.start(run.python(), { env: run.env() });
      try {
        expect(ready.ipython).toBe(run.mode === 'IPython');
        // The driver does not import matplotlib for a cell that did not.
        expect((await driver.run('import sys\n"matplotlib" in sys.modules')).text).toBe('False\n');
        const cell = await driver.run(
          [
            'import matplotlib.pyplot as plt',
            'plt.figure(); plt.plot([1, 2, 3])',
            'plt.figure(); plt.bar([1, 2], [3, 4])',
            'plt.show()',
            'import matplotlib',
            'print(matplotlib.get_backend())',
          ].join('\n'),
        );
        expect(cell.error).toBeNull();
        expect(cell.text.toLowerCase()).toBe('agg\n');
        expect(cell.images).toHaveLength(2);
        for (const url of cell.images) {
          expect(url.startsWith('data:image/png;base64,')).toBe(true);
          const png = Buffer.from(url.slice('data:image/png;base64,'.length), 'base64');
          expect(png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
          expect(png.length).toBeGreaterThan(1000);
        }
        const next = await driver.run('len(plt.get_fignums())');
        expect(next.text).toBe('0\n');
        expect(next.images).toEqual([]);
        if (run.mode === 'IPython') {
          // `%matplotlib inline`, as notebooks start: each plt.show() is one image, via display().
          expect((await driver.run('%matplotlib inline')).error).toBeNull();
          const inline = await driver.run('plt.plot([1, 2])\nplt.show()\nplt.plot([3, 4])\nplt.show()');
          expect(inline.error).toBeNull();
          expect(inline.text).toBe('');
          expect(inline.images).toHaveLength(2);
          expect(inline.images[0]).not.toBe(inline.images[1]);
        }
      } finally {
        await driver.stop();
      }
    }, 120_000);
  }
});

describe('the driver file', () => {
  const pyenv = (v: string) => `/root/.pyenv/versions/${v}/bin/python3`;
  const others = ['3.6.15', '3.7.16', '3.12.1', '3.13.0'].filter((v) => pythonCan(pyenv(v), 'pass'));

  it('compiles on python3, and on CPython 3.7 and 3.13 where present', () => {
    for (const python of ['python3', PLAIN, ...others.map(pyenv)]) {
      const r = spawnSync(python, ['-c', 'import sys; compile(open(sys.argv[1]).read(), sys.argv[1], "exec")', DRIVER], { encoding: 'utf8' });
      expect(r.status, `${python}: ${r.stderr}`).toBe(0);
    }
  });

  for (const version of others) {
    it(`runs cells on CPython ${version}`, async () => {
      const { driver, ready } = await DriverProcess.start(pyenv(version));
      try {
        expect(ready.version).toBe(version);
        expect((await driver.run('x = 2\nx ** 10')).text).toBe('1024\n');
        const failed = await driver.run('print("out")\n1/0');
        expect(failed.error).toBe('ZeroDivisionError');
        expect(failed.text).toMatch(/^out\nTraceback \(most recent call last\):\n {2}File "<cell-2>", line 2, in <module>\n/);
      } finally {
        await driver.stop();
      }
    });
  }
});
