// Whether a Docker engine is here; without one the Docker tests skip loudly, and fail under CI.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { docker } from '../../client/docker/docker-cli.js';

export const SETUP_COMMAND = 'bash scripts/docker-engine.sh';

export function engineAvailable(): boolean {
  try {
    execFileSync(process.env.DOCKER || 'docker', ['info', '--format', '{{.ServerVersion}}'], { stdio: 'ignore', timeout: 15_000 });
    return true;
  } catch {
    return false;
  }
}

/** Call at the top of a Docker test file: true when its tests should run. */
export function requireEngine(): boolean {
  if (engineAvailable()) return true;
  const line = '!'.repeat(78);
  if (process.env.CI === 'true') {
    throw new Error(`No Docker engine, and CI=true: the Docker tests must run. Set one up with: ${SETUP_COMMAND}`);
  }
  console.warn(`\n${line}\n!! Docker tests SKIPPED: no Docker engine is running.\n!! Set one up with:  ${SETUP_COMMAND}\n${line}\n`);
  return false;
}

const root = join(import.meta.dirname, '..', '..');

/** The bundle (built once, when missing) and the named base images of test/images/build.sh (cached). */
export function prepareImages(...images: string[]): void {
  if (!existsSync(join(root, 'dist/runtime-client/manifest.json'))) execFileSync('npm', ['run', 'bundle', '--silent'], { cwd: root, stdio: 'inherit' });
  execFileSync('bash', [join(root, 'test/images/build.sh'), ...images], { cwd: root, stdio: 'inherit' });
}

/** Removes every container carrying `label` (a test file's clean-up). */
export async function removeLabelled(label: string): Promise<void> {
  const ids = (await docker(['ps', '-aq', '--filter', `label=${label}`])).split('\n').filter(Boolean);
  if (ids.length) await docker(['rm', '-f', ...ids]);
}

/**
 * The health of container `name` once its HEALTHCHECK decides (`healthy` or `unhealthy`), or the
 * last status seen when `timeoutMs` passes first (`starting`; '' for a container without one).
 */
export async function waitHealthy(name: string, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let status = '';
  while (Date.now() < deadline) {
    status = (await docker(['inspect', '--format', '{{if .State.Health}}{{.State.Health.Status}}{{end}}', name])).trim();
    if (status === 'healthy' || status === 'unhealthy') return status;
    await new Promise((r) => setTimeout(r, 250));
  }
  return status;
}
