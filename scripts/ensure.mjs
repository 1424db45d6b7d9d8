// Makes a checkout runnable: installs dependencies when missing or stale (always with --install),
// builds when the sources are newer than dist/. Used by `npm start`, `npm test` and CI, so all
// work on a fresh clone.
import { execSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;

// node-pty compiles against Node's headers; use the ones installed beside this node (Debian's
// /usr/include/node, or an official tarball's include/) so node-gyp never downloads them.
const prefix = dirname(dirname(process.execPath));
const env = { ...process.env };
if (!env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node.h'))) env.npm_config_nodedir = prefix;

const run = (cmd) => execSync(cmd, { cwd: root, env, stdio: ['ignore', 'inherit', 'inherit'] });
const mtime = (p) => (existsSync(p) ? statSync(p).mtimeMs : 0);

function newest(dir) {
  if (!existsSync(dir)) return 0;
  let t = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'dist' || entry.name === 'node_modules') continue; // build output, not sources
    const p = join(dir, entry.name);
    t = Math.max(t, entry.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

const marker = join(root, 'node_modules', '.package-lock.json');
if (process.argv.includes('--install') || mtime(marker) < mtime(join(root, 'package-lock.json')) || !existsSync(join(root, 'node_modules', 'node-pty'))) {
  console.error('[runtime-client] installing dependencies (npm ci)');
  run('npm ci --no-audit --no-fund');
}

const sources = Math.max(...['protocol', 'archive', 'server', 'dockerfiles', 'client', 'control', 'cli', 'bundle'].map((d) => newest(join(root, d))), mtime(join(root, 'tsconfig.json')), mtime(join(root, 'tsconfig.base.json')));
// dist/session-init is compiled from server/shell/init/session-init.c by the same build.
const sessionInitStale = mtime(join(root, 'dist', 'session-init')) < mtime(join(root, 'server', 'shell', 'init', 'session-init.c'));
const built = Math.min(mtime(join(root, 'dist', 'runtime-client.mjs')), mtime(join(root, 'dist', 'cli.mjs')));
if (built < sources || sessionInitStale) {
  console.error('[runtime-client] building (npm run build)');
  run('npm run build --silent');
}
