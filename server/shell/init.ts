// session-init (init/session-init.c): the small static program the pty runs instead of the shell.
// It runs the shell as its child and, when the shell exits or the session ends, kills everything
// the session started, setsid'd processes and daemons included. This module finds it and says
// how to call it.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Path of the session-init binary, or undefined when there is none. Looked for beside the
 * executable (the bundle's bin/session-init next to bin/runtime-client, also when started through
 * the bundled loader in lib/), then in this checkout's dist/ (built by bundle/native.mjs), from
 * the built CLI dist/runtime-client.mjs, from tsc's dist/server/shell/init.js, or from this source.
 */
export function sessionInitPath(execPath: string = process.execPath, moduleUrl: string = import.meta.url): string | undefined {
  const here = dirname(fileURLToPath(moduleUrl));
  const candidates = [
    join(dirname(execPath), 'session-init'),
    join(dirname(dirname(execPath)), 'bin', 'session-init'),
    join(here, 'session-init'),
    join(here, '..', '..', 'session-init'),
    join(here, '..', '..', 'dist', 'session-init'),
    join(here, '..', '..', '..', 'dist', 'session-init'),
  ];
  return candidates.find((p) => existsSync(p));
}

/**
 * The arguments after session-init's own path: the ids the shell runs as (when `user` is given;
 * session-init itself stays with the server's ids), then the shell and its arguments.
 */
export function sessionInitArgs(shell: string, args: readonly string[], user?: { uid: number; gid: number }): string[] {
  const ids = user ? ['--uid', String(user.uid), '--gid', String(user.gid)] : [];
  return [...ids, '--', shell, ...args];
}
