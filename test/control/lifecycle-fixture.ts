// The lifecycle tests' fixture: a Lifecycle over a real driver (runtime-client processes, see
// process-driver.ts) on a fresh state dir, its log lines captured, and everything it made removed
// afterwards.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { LifecycleOptions } from '../../control/lifecycle/api.js';
import { openLifecycle, type LifecycleExtras, type RuntimeLifecycle } from '../../control/lifecycle/lifecycle.js';
import { ProcessDriver } from './process-driver.js';

export const BASE_OPTIONS: Omit<LifecycleOptions, 'stateDir'> = {
  defaultTtl: 600,
  maxTtl: 3600,
  idleTimeout: 600,
  pausedTtl: 600,
  maxRuntimes: 10,
  baseCpus: 1,
  baseMemoryMb: 1024,
  maxCpus: 4,
  maxMemoryMb: 8192,
  warm: {},
};

export interface Opened {
  lifecycle: RuntimeLifecycle;
  driver: ProcessDriver;
  stateDir: string;
  /** Every log line so far, parsed. */
  lines: Record<string, unknown>[];
  /** The raw log text (to check that no key is in it). */
  text(): string;
}

export class LifecycleFixture {
  readonly root = mkdtempSync(join(tmpdir(), 'rc-lifecycle-'));
  private readonly opened: Opened[] = [];
  private readonly drivers = new Set<ProcessDriver>();

  /** A lifecycle on `name`'s state dir and sandbox dir (the same name reopens the same state). */
  async open(options: Partial<LifecycleOptions> = {}, name = 'a', extras: LifecycleExtras = {}): Promise<Opened> {
    const driver = new ProcessDriver(join(this.root, `${name}-sandboxes`));
    this.drivers.add(driver);
    const raw: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void raw.push(line) });
    const stateDir = join(this.root, `${name}-state`);
    const lifecycle = await openLifecycle(driver, { ...BASE_OPTIONS, ...options, stateDir }, { logger, ...extras });
    const opened: Opened = {
      lifecycle,
      driver,
      stateDir,
      get lines() {
        return raw.map((l) => JSON.parse(l) as Record<string, unknown>);
      },
      text: () => raw.join(''),
    };
    this.opened.push(opened);
    return opened;
  }

  /** Closes every lifecycle, removes every sandbox any of them made, and the temp dir. */
  async cleanUp(): Promise<void> {
    for (const o of this.opened) await o.lifecycle.close().catch(() => undefined);
    for (const d of this.drivers) {
      for (const s of await d.list({})) await d.remove(s.id);
      for (const pid of d.livePids().values()) process.kill(pid, 'SIGKILL');
      await d.close();
    }
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** Waits until `check` returns true (polling every 25 ms), or fails after `ms`. */
export async function until(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** GET <url>/alive with the runtime's key, answering the status (0 when the server does not answer within `ms`). */
export async function aliveStatus(url: string, ms = 1000): Promise<number> {
  try {
    const res = await fetch(`${url}/alive`, { signal: AbortSignal.timeout(ms) });
    return res.status;
  } catch {
    return 0;
  }
}

/** Runs `command` in the runtime's default shell; answers its output. */
export async function run(url: string, key: string, command: string): Promise<string> {
  const res = await fetch(`${url}/execute_action`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-session-api-key': key },
    body: JSON.stringify({ action: { action: 'run', args: { command, blocking: true }, timeout: 10 } }),
  });
  if (res.status !== 200) throw new Error(`execute_action answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { content: string }).content.trim();
}
