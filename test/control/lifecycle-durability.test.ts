// Durability: a child process running the Lifecycle (lifecycle-child.ts: starts, pauses, resumes,
// renews and stops at random) is killed with SIGKILL at a random point, at least 50 times; after
// each kill the state dir is opened again (reconciliation) and checked against what the child had
// reported: no sandbox leaked (every sandbox with the service's labels is a live record's or the
// warm pool's; with the process driver, every live runtime-client process too), no runtime lost
// (every start the child saw answered and did not stop is still there), every TTL at its original
// time, every sandbox paused or running as its record says. Over runtime-client processes, and over
// the Docker engine when there is one.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LABELS } from '../../control/driver.js';
import { openLifecycle } from '../../control/lifecycle/lifecycle.js';
import { prepareImages, removeLabelled, requireEngine } from '../docker/engine.js';
import { durabilitySetup, type DriverKind } from './lifecycle-durability-options.js';
import { ProcessDriver } from './process-driver.js';

const CHILD = join(import.meta.dirname, 'lifecycle-child.ts');
const MIN_KILLS = 50;
const MAX_KILLS = 70;
const BUDGET_MS = 160_000;

interface Known {
  expiresAt: number;
  /** no: the child saw it live; maybe: a stop was asked and not answered; yes: stopped. */
  stopped: 'no' | 'maybe' | 'yes';
  /** A renewal was asked and not answered: the new expiry is unknown. */
  renewing: boolean;
}

const roots: string[] = [];
const cleanUps: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanUps) await c();
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

/** Runs the child for `ms`, kills it with SIGKILL, and answers the lines it printed. */
function runChild(root: string, kind: DriverKind, seed: number, ms: number): Promise<{ lines: Record<string, unknown>[]; diedAlone: string | null }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, root, String(seed), kind], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const lines = out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      resolve({ lines, diedAlone: signal === 'SIGKILL' ? null : `exit ${code} ${signal}: ${err.slice(-2000)}` });
    });
  });
}

async function loop(kind: DriverKind): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), `rc-durability-${kind}-`));
  roots.push(root);
  const { driver, options } = durabilitySetup(kind, root);
  let service: string | undefined;
  cleanUps.push(async () => {
    if (service) {
      for (const s of await driver.list({ [LABELS.service]: service })) await driver.remove(s.id);
      if (kind === 'docker') await removeLabelled(`${LABELS.service}=${service}`);
    }
    if (driver instanceof ProcessDriver) for (const pid of driver.livePids().values()) process.kill(pid, 'SIGKILL');
    await driver.close();
  });
  const known = new Map<string, Known>();
  const began = Date.now();
  let kills = 0;
  let afterOpen = 0;
  let operations = 0;
  let undone = 0;
  let lateCreates = 0;
  for (let seed = 1; kills < MAX_KILLS && (kills < MIN_KILLS || Date.now() - began < BUDGET_MS); seed++) {
    const { lines, diedAlone } = await runChild(root, kind, seed * 2654435761, (kind === 'docker' ? 300 : 150) + Math.floor(Math.random() * (kind === 'docker' ? 3500 : 1600)));
    expect(diedAlone, 'the child died on its own').toBeNull();
    kills++;
    if (lines.some((l) => l.op === 'open')) afterOpen++;
    for (const l of lines) {
      const id = l.runtimeId as string | undefined;
      if (l.phase === 'done') operations++;
      if (!id) continue;
      const k = known.get(id);
      if (l.phase === 'intent' && l.op === 'stop' && k) k.stopped = 'maybe';
      if (l.phase === 'intent' && l.op === 'renew' && k) k.renewing = true;
      if (l.phase === 'error' && l.op === 'renew' && k) k.renewing = false;
      if (l.phase === 'done') {
        if (l.op === 'stop') known.set(id, { ...(k ?? { renewing: false }), expiresAt: l.expiresAt as number, stopped: 'yes' });
        else if (l.op === 'start' || l.op === 'renew' || !k) known.set(id, { expiresAt: l.expiresAt as number, stopped: 'no', renewing: false });
      }
    }

    // The service restarts: reconciliation, then the checks.
    const lifecycle = await openLifecycle(driver, options);
    service = lifecycle.serviceLabels[LABELS.service];
    try {
      undone += lifecycle.reconciled!.removed;
      for (const [id, k] of known) {
        const r = lifecycle.get(id);
        expect(r, `runtime ${id} is known`).toBeDefined();
        if (k.stopped === 'no') expect(r!.status, `runtime ${id} lost (kill ${kills})`).not.toBe('stopped');
        if (k.stopped === 'yes') expect(r!.status).toBe('stopped');
        if (k.stopped !== 'yes' && !k.renewing && r!.status !== 'stopped') expect(r!.expiresAt, `runtime ${id}'s TTL`).toBe(k.expiresAt);
        // What was uncertain is now settled: the record says.
        known.set(id, { expiresAt: r!.expiresAt, stopped: r!.status === 'stopped' ? 'yes' : 'no', renewing: false });
      }
      const live = lifecycle.list().filter((r) => r.status !== 'stopped');
      let sandboxes = await driver.list(lifecycle.serviceLabels);
      const warm = Object.values(lifecycle.warmPool()).reduce((n, w) => n + w.ready + w.starting, 0);
      const warmIds = new Set(Object.values(lifecycle.warmPool()).flatMap((w) => w.sandboxIds));
      const claimed = (id: string) => live.some((r) => r.sandboxId === id) || warmIds.has(id);
      // No leak: every sandbox is a live runtime's or a warm one (and, with processes, every process
      // is a sandbox). A create the engine was still doing when the child died can land after the
      // reconciliation: such a sandbox belongs to no live runtime, and the sweep (5 s after open,
      // then every minute) removes it; here it is called at once.
      for (let tries = 0; sandboxes.some((s) => !claimed(s.id)); tries++) {
        expect(tries, `unclaimed sandboxes the sweep leaves: ${JSON.stringify(sandboxes.filter((s) => !claimed(s.id)))}`).toBeLessThan(20);
        await new Promise((res) => setTimeout(res, 500));
        lateCreates += await lifecycle.sweep();
        sandboxes = await driver.list(lifecycle.serviceLabels);
      }
      expect(sandboxes.length, 'sandboxes beyond the live runtimes and the warm pool').toBe(live.length + warm);
      if (driver instanceof ProcessDriver) {
        const processes = driver.livePids();
        expect([...processes.keys()].filter((id) => !sandboxes.some((s) => s.id === id)), 'processes with no sandbox').toEqual([]);
        expect(processes.size).toBe(sandboxes.length);
      }
      for (const r of live) {
        const s = sandboxes.find((x) => x.id === r.sandboxId);
        expect(s, `runtime ${r.runtimeId}'s sandbox`).toBeDefined();
        expect(s!.labels[LABELS.runtimeId]).toBe(r.runtimeId);
        expect(r.podStatus).toBe('ready');
        expect(s!.status, `runtime ${r.runtimeId} is ${r.status}`).toBe(r.status === 'paused' ? 'paused' : 'running');
      }
    } finally {
      await lifecycle.close();
    }
  }
  console.log(`durability (${kind}): ${kills} SIGKILLs (${afterOpen} after the open), ${operations} operations answered, ${known.size} runtimes tracked, ${undone} sandboxes removed at reopen, ${lateCreates} by the sweep after it, ${Math.round((Date.now() - began) / 1000)} s`);
  expect(kills).toBeGreaterThanOrEqual(MIN_KILLS);
  expect(afterOpen).toBeGreaterThan(kills / 2);
  expect(operations).toBeGreaterThan(kills);
}

const TITLE = `survives SIGKILL at random points (${MIN_KILLS}+ times): nothing leaked, nothing lost, every TTL kept`;

describe('over runtime-client processes', () => {
  it(TITLE, { timeout: BUDGET_MS + 60_000 }, () => loop('process'));
});

const hasEngine = requireEngine();
describe.skipIf(!hasEngine)('over the Docker engine', () => {
  it(TITLE, { timeout: BUDGET_MS + 600_000 }, async () => {
    prepareImages('bookworm');
    await loop('docker');
  });
});
