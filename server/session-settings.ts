// Who the shells run as, where they start and which bash they run: settled from the flags at
// start, or from a /configure body (--await-config). The session user is created first when
// asked (--user-id), then the working dir and shell are checked as that user would meet them.
// Every mistake is a UsageError naming the flag or body field (exit 2, or a 400).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MAX_USER_ID, USERNAME_PATTERN, isUserId } from '@runtime-client/protocol';
import { defaultShell, shellCandidates } from './config.js';
import { UsageError } from './errors.js';
import { ensureUser, type UserOutcome } from './user-setup.js';
import { groupsOf, lookupUser, ownIdentity, whyCannotEnter, whyCannotRun, type Identity } from './users.js';

/** How the caller names each setting in its messages: the flags, or the /configure fields. */
export interface SettingNames {
  workingDir: string;
  username: string;
  userId: string;
  shell: string;
}

export const FLAG_NAMES: SettingNames = { workingDir: '--working-dir', username: '--username', userId: '--user-id', shell: '--shell' };
/** In a /configure body the shell is the start's --shell: what can go wrong with it there is the user's reach. */
export const BODY_NAMES: SettingNames = { workingDir: 'working_dir', username: 'username', userId: 'user_id', shell: 'username' };

export interface SessionRequest {
  /** As given (relative to the current directory), or absent for the current directory. */
  workingDir?: string;
  username?: string;
  /** Create `username` with this uid when /etc/passwd lacks it (the server must be root). */
  userId?: number;
  /** --shell as given: a path, or a name looked up on PATH. */
  shell?: string;
}

export interface SessionSettings {
  workingDir: string;
  username?: string;
  shell: string;
  /** What was done to provide the user, when userId was given. */
  user?: UserOutcome;
}

/** Checks the shapes only (no file is read): a uid, --user-id only with --username, a name that can be created. */
export function checkSessionRequest(req: SessionRequest, names: SettingNames): void {
  if (req.userId === undefined) return;
  if (!isUserId(req.userId)) {
    throw new UsageError(`${names.userId} must be an integer from 0 to ${MAX_USER_ID}, got ${JSON.stringify(req.userId)}`, names.userId);
  }
  if (req.username === undefined) throw new UsageError(`${names.userId} needs ${names.username} (the user to create with that uid)`, names.userId);
  if (req.username !== 'root' && !USERNAME_PATTERN.test(req.username)) {
    throw new UsageError(`${names.username} ${JSON.stringify(req.username)} cannot be created: a name to create must match ${USERNAME_PATTERN.source}`, names.username);
  }
}

/**
 * Settles the session: creates the user when asked and missing, then resolves the working dir
 * and the shell and checks that the user can reach them. Throws a UsageError naming the field,
 * or a UserSetupError when the image's user files cannot be written safely.
 */
export function settleSession(req: SessionRequest, names: SettingNames, env: NodeJS.ProcessEnv = process.env): SessionSettings {
  checkSessionRequest(req, names);
  let user: UserOutcome | undefined;
  if (req.userId !== undefined && req.username !== 'root') {
    const uid = process.getuid?.();
    const exists = userExists(req.username!);
    if (!exists && uid !== undefined && uid !== 0) {
      throw new UsageError(`${names.userId}: creating user ${req.username} needs the server to run as root (it runs as uid ${uid})`, names.userId);
    }
    if (uid === 0) {
      const fallbackShell = req.shell?.includes('/') ? resolve(req.shell) : (defaultShell() ?? undefined);
      user = ensureUser({ name: req.username!, uid: req.userId, workingDir: absolute(req.workingDir, names), fallbackShell });
    }
  }
  const who = sessionIdentity(req.username, names);
  return {
    workingDir: workingDirOf(req.workingDir, who, names),
    username: req.username,
    shell: shellOf(req.shell, who, env, names),
    ...(user ? { user } : {}),
  };
}

function userExists(name: string): boolean {
  try {
    lookupUser(name);
    return true;
  } catch {
    return false;
  }
}

function absolute(raw: string | undefined, names: SettingNames): string | undefined {
  if (raw === undefined) return undefined;
  try {
    return resolve(raw);
  } catch (e) {
    throw new UsageError(`${names.workingDir} ${raw}: the current directory is gone (${(e as Error).message})`, names.workingDir);
  }
}

/** Who the shells will run as: the named user (which must exist, and needs a root server), or the server's own user. */
function sessionIdentity(username: string | undefined, names: SettingNames): Identity {
  if (username === undefined) return ownIdentity();
  let user: ReturnType<typeof lookupUser>;
  try {
    user = lookupUser(username);
  } catch (e) {
    throw new UsageError(`${names.username}: ${(e as Error).message}; ${names.userId} N creates it`, names.username);
  }
  const uid = process.getuid?.();
  if (uid !== undefined && uid !== 0 && user.uid !== uid) {
    throw new UsageError(`${names.username} ${username} needs the server to run as root (it runs as uid ${uid})`, names.username);
  }
  return { name: user.name, uid: user.uid, gids: groupsOf(user.name, user.gid) };
}

function workingDirOf(raw: string | undefined, who: Identity, names: SettingNames): string {
  let dir: string;
  try {
    dir = resolve(raw ?? process.cwd());
  } catch (e) {
    throw new UsageError(`the current directory is gone (${(e as Error).message}); give ${names.workingDir} DIR`, names.workingDir);
  }
  const problem = whyCannotEnter(dir, who);
  if (problem === null) return dir;
  throw new UsageError(
    raw === undefined ? `the working directory ${dir} (the current directory; ${names.workingDir} names another) ${problem}` : `${names.workingDir} ${dir} ${problem}`,
    names.workingDir,
  );
}

function shellOf(raw: string | undefined, who: Identity, env: NodeJS.ProcessEnv, names: SettingNames): string {
  if (raw === undefined) {
    const found = defaultShell();
    if (found === null) throw new UsageError(`no bash found (looked for ${shellCandidates().join(', ')}); name one with --shell PATH`, names.shell);
    const problem = whyCannotRun(found, who);
    if (problem) throw new UsageError(`the shell ${found} ${problem}; name another with --shell PATH`, names.shell);
    return found;
  }
  // A bare name is looked up on PATH, as the shell's exec would.
  const path = raw.includes('/') ? resolve(raw) : (env.PATH ?? '').split(':').filter(Boolean).map((dir) => join(dir, raw)).find((p) => existsSync(p));
  if (path === undefined) throw new UsageError(`--shell ${raw} is not found on PATH`, names.shell);
  const problem = whyCannotRun(path, who);
  if (problem) throw new UsageError(`--shell ${path} ${problem}`, names.shell);
  return path;
}
