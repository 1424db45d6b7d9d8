// --username: a root server runs shells as another user, with that user's ids, groups and HOME.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers/server.js';

const isRoot = process.getuid?.() === 0;
let server: TestServer;

beforeAll(async () => {
  if (isRoot) server = await startServer({ args: ['--username', 'nobody', '--working-dir', '/tmp'] });
});
afterAll(async () => {
  await server?.stop();
});

it.runIf(isRoot)('runs the session as the named user with only that user’s groups', async () => {
  const obs = await server.run('id -un; id -u; id -G; echo "$HOME $USER"; pwd');
  const [name, uid, groups, env, cwd] = obs.content.trim().split('\n');
  expect(name).toBe('nobody');
  expect(uid).toBe('65534');
  expect(groups!.split(' ')).not.toContain('0');
  expect(env).toBe('/nonexistent nobody');
  expect(cwd).toBe('/tmp');
  expect(obs.extras.metadata.username).toBe('nobody');
});

it.runIf(isRoot)('spills long output into a file the session user can read', async () => {
  const obs = await server.run('seq 1 20000');
  const path = obs.meta!.full_output_path;
  expect(path).toBeTruthy();
  const check = await server.run(`wc -l < ${path}`);
  expect(check.content.trim()).toBe('20000');
});
