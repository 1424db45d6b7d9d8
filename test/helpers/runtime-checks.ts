// Checks every backend's runtime must pass the same way (Docker, remote): a stream through the
// runtime's url, and a paused runtime's client refusing at once.
import { expect } from 'vitest';
import type { RuntimeClient } from '../../client/index.js';

/** Streams a command printing 1, 2 and 3 a tenth of a second apart: every line arrives, then the run's observation. */
export async function expectStreamsLines(client: RuntimeClient): Promise<void> {
  const handle = client.stream({ action: 'run', args: { command: 'for i in 1 2 3; do echo $i; sleep 0.1; done' } });
  let output = '';
  for await (const chunk of handle) output += chunk;
  expect(output.replace(/\r/g, '')).toContain('1\n2\n3\n');
  expect((await handle.observation).observation).toBe('run');
}

/** A paused runtime's client: alive() is false and stream() throws `paused` before sending anything. */
export async function expectPausedClient(client: RuntimeClient): Promise<void> {
  expect(await client.alive()).toBe(false);
  let thrown: unknown;
  try {
    client.stream({ action: 'run', args: { command: 'true' } });
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toMatchObject({ code: 'paused' });
}
