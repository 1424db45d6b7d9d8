// Lifecycles over the real Docker driver and engine, for one test file: call dockerLifecycles() at
// its top level. It registers the file's hooks: the test image built (rc-test/bookworm:1), one
// driver, every lifecycle opened closed after each test and every container of its service
// removed, the state dirs deleted at the end.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll } from 'vitest';
import pino from 'pino';
import { DockerDriver } from '../../control/docker/index.js';
import { LABELS } from '../../control/driver.js';
import type { LifecycleOptions } from '../../control/lifecycle/api.js';
import { openLifecycle, type RuntimeLifecycle } from '../../control/lifecycle/lifecycle.js';
import { prepareImages, removeLabelled, requireEngine } from '../docker/engine.js';
import { BASE_OPTIONS } from './lifecycle-fixture.js';

export interface OpenedLifecycle {
  lifecycle: RuntimeLifecycle;
  /** Its log lines as written. */
  log: string[];
  /** Its log lines, parsed. */
  lines(): Record<string, unknown>[];
  stateDir: string;
}

export function dockerLifecycles(prefix: string) {
  const hasEngine = requireEngine();
  let root: string;
  let driver: DockerDriver;
  const opened: RuntimeLifecycle[] = [];
  const services = new Set<string>();

  beforeAll(() => {
    if (!hasEngine) return;
    prepareImages('bookworm');
    root = mkdtempSync(join(tmpdir(), `${prefix}-`));
    driver = new DockerDriver();
  }, 600_000);

  afterEach(async () => {
    for (const l of opened.splice(0)) await l.close();
    for (const service of services) await removeLabelled(`${LABELS.service}=${service}`);
  });

  afterAll(async () => {
    await driver?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  /** A lifecycle on the state dir `name` (a new one by default; the same name reopens it), 512 MiB a runtime. */
  async function open(options: Partial<LifecycleOptions> = {}, name = `s${opened.length}-${Date.now()}`): Promise<OpenedLifecycle> {
    const log: string[] = [];
    const stateDir = join(root, name);
    const lifecycle = await openLifecycle(driver, { ...BASE_OPTIONS, baseMemoryMb: 512, ...options, stateDir }, { logger: pino({ level: 'info' }, { write: (l: string) => void log.push(l) }) });
    opened.push(lifecycle);
    services.add(lifecycle.serviceLabels[LABELS.service]);
    return { lifecycle, log, lines: () => log.map((l) => JSON.parse(l) as Record<string, unknown>), stateDir };
  }

  return { hasEngine, open, driver: () => driver };
}
