// The native helper the server runs, compiled into dist/ by `npm run build` (and by sea.mjs for the
// bundle): dist/session-init from server/shell/init/session-init.c, a static executable so it runs
// in any image. Skipped when the output is newer than the source and this script.
//
//   node bundle/native.mjs     builds (or finds fresh) dist/session-init and prints nothing
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
export const SESSION_INIT_SOURCE = join(root, 'server', 'shell', 'init', 'session-init.c');
export const SESSION_INIT = join(root, 'dist', 'session-init');

const mtime = (p) => (existsSync(p) ? statSync(p).mtimeMs : 0);

/** Builds dist/session-init when it is missing or older than its source; returns its path. */
export function buildSessionInit() {
  const inputs = Math.max(mtime(SESSION_INIT_SOURCE), mtime(fileURLToPath(import.meta.url)));
  if (mtime(SESSION_INIT) > inputs) return SESSION_INIT;
  mkdirSync(join(root, 'dist'), { recursive: true });
  // Written aside and renamed: a session starting meanwhile runs the old binary or the new one.
  const tmp = `${SESSION_INIT}.tmp${process.pid}`;
  const cc = process.env.CC || 'gcc';
  const args = ['-static', '-Os', '-s', '-Wall', '-Wextra', '-Werror', '-o', tmp, SESSION_INIT_SOURCE];
  const r = spawnSync(cc, args, { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    rmSync(tmp, { force: true });
    const why = r.error?.code === 'ENOENT' ? `${cc} not found (apt-get install gcc libc6-dev)` : `exit ${r.status}\n${r.stdout}${r.stderr}`.trim();
    throw new Error(`${cc} ${args.join(' ')} failed: ${why}`);
  }
  renameSync(tmp, SESSION_INIT);
  return SESSION_INIT;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    buildSessionInit();
  } catch (e) {
    process.stderr.write(`native: ${e.message}\n`);
    process.exit(1);
  }
}
