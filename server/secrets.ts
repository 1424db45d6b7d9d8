// Keeping the API key out of /proc/<pid>/environ. Every process of the server's user can read
// that file, and it shows the environment the process was started with, whatever process.env
// says later. Node 20 cannot re-exec itself, so the entry is zeroed in place, through /proc/<pid>/mem.
import { closeSync, openSync, readFileSync, readlinkSync, readSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Environment variables holding secrets: never left in the server's initial environment. */
export const SECRET_ENV = ['SESSION_API_KEY'] as const;

/**
 * Zeroes every `NAME=value` entry of `names` in the initial environment of process `pid` (what
 * /proc/<pid>/environ shows): the entry becomes empty strings, the other entries stay where they
 * are, so the C `environ` pointers into that memory stay valid. Returns how many entries were
 * removed; throws (ENOENT without /proc, EACCES/EPERM when the process may not be written) when
 * it cannot look.
 */
export function scrubEnviron(pid: number | 'self', names: readonly string[]): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after "(comm) " start at field 3; env_start and env_end are fields 50 and 51 (Linux 3.5+).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const envStart = Number(fields[50 - 3]);
  const envEnd = Number(fields[51 - 3]);
  if (!(envStart > 0 && envEnd > envStart)) throw new Error(`/proc/${pid}/stat has no environment bounds (kernel older than 3.5?)`);
  const fd = openSync(`/proc/${pid}/mem`, 'r+');
  try {
    const area = Buffer.alloc(envEnd - envStart);
    const got = readSync(fd, area, 0, area.length, envStart);
    let removed = 0;
    let entry = 0;
    while (entry < got) {
      let end = area.indexOf(0, entry);
      if (end < 0 || end > got) end = got;
      const text = area.toString('latin1', entry, end);
      if (names.some((name) => text.startsWith(`${name}=`))) {
        writeSync(fd, Buffer.alloc(end - entry), 0, end - entry, envStart + entry);
        removed++;
      }
      entry = end + 1;
    }
    return removed;
  } finally {
    closeSync(fd);
  }
}

/**
 * At start, once the key has been read: removes the secrets from process.env and from this
 * process's initial environment, and from that of the bundle's tini when tini is its parent
 * (PID 1 of a container, which would otherwise hold the key for the container's lifetime).
 * Returns warnings to log: a failure leaves the key readable, and never stops the server.
 */
export function hideSecrets(env: NodeJS.ProcessEnv = process.env): string[] {
  const present = SECRET_ENV.filter((name) => env[name] !== undefined);
  if (!present.length) return [];
  for (const name of present) delete env[name];
  const warnings: string[] = [];
  const names = present.join(', ');
  try {
    scrubEnviron('self', present);
  } catch (e) {
    warnings.push(`could not remove ${names} from /proc/${process.pid}/environ (${reason(e)}): processes of the server's user can read it there`);
  }
  const tini = bundledTiniParent();
  if (tini !== undefined) {
    try {
      scrubEnviron(tini, present);
    } catch (e) {
      warnings.push(`could not remove ${names} from the environment of tini (/proc/${tini}/environ: ${reason(e)}): processes of its user can read it there`);
    }
  }
  return warnings;
}

/** The pid of our parent when it is the tini shipped beside this executable (the bundle's init). */
function bundledTiniParent(): number | undefined {
  try {
    return readlinkSync(`/proc/${process.ppid}/exe`) === join(dirname(process.execPath), 'tini') ? process.ppid : undefined;
  } catch {
    return undefined; // no /proc, or the parent is not ours to look at: not one we could write either
  }
}

const reason = (e: unknown): string => (e as NodeJS.ErrnoException).code ?? (e as Error).message;
