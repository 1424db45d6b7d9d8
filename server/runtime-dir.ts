// Where the server keeps its runtime files (session directories, command files, output spills):
// a place it finds or makes in any image, including one built FROM scratch with no /tmp at all.
import { chmodSync, mkdirSync, mkdtempSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import type { Logger } from './logger.js';
import { ServerError } from './errors.js';

/** One place to try: an existing directory, or one to create (mode 1777) when it is missing. */
export interface RuntimePlace {
  dir: string;
  /** Why this place is on the list ("$TMPDIR", "HOME"), for the log. Default: `dir`. */
  label?: string;
  /** Create `dir` with mode 1777 (like /tmp) when it does not exist. */
  create?: boolean;
}

export interface RuntimeDir {
  /** The directory made for this server: owned by the server's user, mode 0711. */
  dir: string;
  /** The directory this call created to hold it (such as /tmp), when it had to. */
  created?: string;
  /** The places passed over, in order, each with the reason. */
  skipped: { place: string; reason: string }[];
}

/**
 * The places, best first: $TMPDIR, /tmp, /var/tmp; then /tmp created (an image without one);
 * then /dev/shm and /run (memory, often small, and /dev/shm is shared with the sandbox's
 * programs, so only when the disk will not do); last, the server's HOME and the working dir.
 */
export function defaultPlaces(workingDir: string, env: NodeJS.ProcessEnv = process.env): RuntimePlace[] {
  const places: RuntimePlace[] = [];
  if (env.TMPDIR) places.push({ dir: env.TMPDIR, label: '$TMPDIR' });
  places.push({ dir: '/tmp' }, { dir: '/var/tmp' }, { dir: '/tmp', create: true }, { dir: '/dev/shm' }, { dir: '/run' });
  const home = homeOf(env);
  if (home) places.push({ dir: home, label: 'HOME' });
  places.push({ dir: workingDir, label: 'working dir' });
  return places;
}

/** The runtime directory for a server started in `workingDir`, said in one log line. */
export function makeRuntimeDir(workingDir: string, log: Logger): string {
  const { dir, created, skipped } = chooseRuntimeDir(defaultPlaces(workingDir));
  log.info({ dir, ...(created ? { created } : {}), ...(skipped.length ? { skipped } : {}) }, 'runtime files');
  return dir;
}

/**
 * Makes the server's runtime directory (`runtime-client-XXXXXX`) in the first place that takes
 * it. A place is passed over when it is missing, not writable, or when another user could
 * rename what is in it (writable by others without the sticky bit, or owned by another user).
 * Throws, naming every place and why, when none does.
 */
export function chooseRuntimeDir(places: RuntimePlace[]): RuntimeDir {
  const skipped: RuntimeDir['skipped'] = [];
  const tried = new Set<string>();
  let created: string | undefined;
  const uid = process.getuid?.();
  for (const place of places) {
    const name = place.label ? `${place.label} (${place.dir})` : place.dir;
    if (tried.has(place.dir) && !(place.create && !exists(place.dir))) continue; // no second try, no second line
    tried.add(place.dir);
    if (!isAbsolute(place.dir)) {
      skipped.push({ place: name, reason: 'not an absolute path' });
      continue;
    }
    try {
      if (place.create && !exists(place.dir)) {
        mkdirSync(place.dir, { mode: 0o1777 });
        chmodSync(place.dir, 0o1777); // the umask took write access from group and others
        created = place.dir;
      }
      const unsafe = unsafeParent(place.dir, uid);
      if (unsafe) {
        skipped.push({ place: name, reason: unsafe });
        continue;
      }
      const dir = mkdtempSync(join(place.dir, 'runtime-client-'));
      chmodSync(dir, 0o711); // others may enter (to reach their session directories), not list
      return { dir, ...(created ? { created } : {}), skipped };
    } catch (e) {
      skipped.push({ place: name, reason: (e as NodeJS.ErrnoException).code ?? (e as Error).message });
    }
  }
  throw new ServerError('no_runtime_dir', `no place for the runtime files: ${skipped.map((s) => `${s.place}: ${s.reason}`).join('; ')}`);
}

/** Why another user could move the runtime directory away from under `dir`, if they could. */
function unsafeParent(dir: string, uid: number | undefined): string | undefined {
  const st = statSync(dir);
  if (!st.isDirectory()) return 'not a directory';
  if (uid === undefined) return undefined;
  if (st.uid !== uid && st.uid !== 0) return `owned by uid ${st.uid}, who could replace the runtime directory`;
  if (st.mode & 0o022 && !(st.mode & 0o1000)) return 'writable by others without the sticky bit';
  return undefined;
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

function homeOf(env: NodeJS.ProcessEnv): string | undefined {
  if (env.HOME) return env.HOME;
  try {
    return homedir();
  } catch {
    return undefined; // no HOME and no passwd entry
  }
}
