// The result store's limits: count, age, and the byte budget that issue 10 item 10 added (memory
// grew without bound: 90 refused 9 MB commands took the server to 1.69 GB).
import { describe, expect, it } from 'vitest';
import { ActionStore } from '../../../server/actions/store.js';
import type { ActionRecord } from '../../../server/actions/record.js';
import type { Observation } from '../../../protocol/index.js';

const MiB = 2 ** 20;

const observation = (content: string): Observation => ({
  observation: 'run',
  content,
  extras: {
    command: 'cmd',
    hidden: false,
    metadata: { exit_code: 0, pid: 1, username: null, hostname: null, working_dir: null, py_interpreter_path: null, prefix: '', suffix: '' },
  },
  success: true,
});

/** Claims and finishes `id` with `bytes` of content; resolves once the store has retired it. */
async function finish(store: ActionStore, id: string, bytes: number, output = 0): Promise<ActionRecord> {
  const { record } = store.claim(id, 'run', 'default');
  if (output) record.pushOutput('o'.repeat(output));
  record.finish(observation('c'.repeat(bytes)));
  await record.done;
  await Promise.resolve(); // retire runs in the store's own then()
  return record;
}

describe('ActionStore byte budget', () => {
  it('evicts the oldest finished records once their bytes pass maxBytes, and tells onEvict', async () => {
    const evicted: string[] = [];
    const store = new ActionStore({ maxBytes: 10 * MiB, onEvict: (r) => evicted.push(r.id) });
    for (let i = 0; i < 6; i++) await finish(store, `r${i}`, 3 * MiB);
    // 6 x 3 MiB: only the newest three fit in 10 MiB.
    expect(evicted).toEqual(['r0', 'r1', 'r2']);
    expect(store.get('r0')).toBeUndefined();
    expect(store.get('r5')?.observation?.content).toHaveLength(3 * MiB);
    expect(store.usage.finished).toBe(3);
    expect(store.usage.bytes).toBeLessThanOrEqual(10 * MiB);
  });

  it('evicts past the byte budget even within keepCount and keepMs', async () => {
    const store = new ActionStore({ keepCount: 1000, keepMs: 3_600_000, maxBytes: 5 * MiB });
    for (let i = 0; i < 4; i++) await finish(store, `k${i}`, 2 * MiB);
    expect(['k0', 'k1', 'k2', 'k3'].map((id) => store.get(id) !== undefined)).toEqual([false, false, true, true]);
  });

  it('keeps the newest finished record even when it alone is over budget', async () => {
    const store = new ActionStore({ maxBytes: MiB });
    await finish(store, 'small', 1000);
    await finish(store, 'huge', 3 * MiB);
    expect(store.get('small')).toBeUndefined();
    expect(store.get('huge')).toBeDefined();
  });

  it('counts raw output too, dropping old output windows before whole records', async () => {
    const store = new ActionStore({ maxOutputBytes: 2 * MiB, maxBytes: 100 * MiB });
    const a = await finish(store, 'a', 10, 1.5 * MiB);
    const b = await finish(store, 'b', 10, 1.5 * MiB);
    expect(a.outputBytes).toBe(0);
    expect(b.outputBytes).toBe(1.5 * MiB);
    expect(store.get('a')).toBeDefined();
  });

  it('never evicts a running record', async () => {
    const store = new ActionStore({ maxBytes: MiB });
    const { record: running } = store.claim('running', 'run', 'default');
    running.pushOutput('x'.repeat(2 * MiB));
    for (let i = 0; i < 3; i++) await finish(store, `f${i}`, MiB);
    expect(store.get('running')).toBe(running);
  });

  it('still evicts by count, and tells onEvict then too', async () => {
    const evicted: string[] = [];
    const store = new ActionStore({ keepCount: 2, keepMs: 0, onEvict: (r) => evicted.push(r.id) });
    for (let i = 0; i < 4; i++) await finish(store, `n${i}`, 10);
    expect(evicted).toEqual(['n0', 'n1']);
  });

  it('goes on evicting when onEvict throws', async () => {
    const store = new ActionStore({
      keepCount: 1,
      keepMs: 0,
      onEvict: () => {
        throw new Error('clean-up failed');
      },
    });
    for (let i = 0; i < 3; i++) await finish(store, `t${i}`, 10);
    expect(store.get('t0')).toBeUndefined();
    expect(store.get('t1')).toBeUndefined();
    expect(store.get('t2')).toBeDefined();
  });
});
