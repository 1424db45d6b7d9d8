// Whether a Docker engine is here; without one the Docker tests skip loudly, and fail under CI.
import { execFileSync } from 'node:child_process';

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
