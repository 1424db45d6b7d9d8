// The soft timeout (NO_CHANGE_TIMEOUT_SECONDS from the environment) and interactive input.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startServer, exitCodeOf, type TestServer } from '../helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer({ env: { NO_CHANGE_TIMEOUT_SECONDS: '1' } });
});
afterAll(async () => {
  await server.stop();
});

it('returns from read -p after 1 s without output, then answers it with is_input', async () => {
  const started = Date.now();
  const waiting = await server.run('read -p "Your name: " name && echo "Hello $name"');
  expect(Date.now() - started).toBeLessThan(4000);
  expect(exitCodeOf(waiting)).toBe(-1);
  expect(waiting.content).toBe('Your name: ');
  expect(waiting.extras.metadata.suffix).toMatch(/^\n\[The command has no new output after 1 seconds\./);
  expect(waiting.meta).toEqual({ still_running: true, refused: false });
  const answered = await server.run('Ada', { is_input: true });
  expect(answered.meta).toEqual({ still_running: false, refused: false });
  expect(exitCodeOf(answered)).toBe(0);
  expect(answered.content).toContain('Hello Ada');
  expect(answered.extras.metadata.prefix).toBe('[Below is the output of the previous command.]\n');
});

it('does not apply the soft timeout to a blocking command', async () => {
  const obs = await server.run('sleep 2; echo waited', { blocking: true });
  expect(obs.content).toBe('waited\n');
  expect(exitCodeOf(obs)).toBe(0);
});

it('sends C-d to end input to a reading program', async () => {
  const first = await server.run('cat > /dev/null; echo eof-seen');
  expect(exitCodeOf(first)).toBe(-1);
  const done = await server.run('C-d', { is_input: true });
  expect(done.content).toContain('eof-seen');
  expect(exitCodeOf(done)).toBe(0);
});
