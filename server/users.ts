// Looking up the session user in /etc/passwd (os.userInfo only knows the current user).
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import type { ShellUser } from './shell/session.js';

/** The passwd entry for `name`, or an Error saying why there is none. */
export function lookupUser(name: string, passwdPath = '/etc/passwd'): ShellUser & { shell: string } {
  let passwd: string;
  try {
    passwd = readFileSync(passwdPath, 'utf8');
  } catch (e) {
    throw new Error(`cannot read ${passwdPath} to look up user ${JSON.stringify(name)}: ${(e as Error).message}`);
  }
  for (const line of passwd.split('\n')) {
    const [user, , uid, gid, , home, shell] = line.split(':');
    if (user === name && uid !== undefined && gid !== undefined) {
      return { name, uid: Number(uid), gid: Number(gid), home: home || '/', shell: shell ?? '' };
    }
  }
  throw new Error(`no user ${JSON.stringify(name)} in ${passwdPath}`);
}

/** The user the server runs as; images without /etc/passwd (scratch, busybox) still get one. */
export function currentUser(env: NodeJS.ProcessEnv = process.env): ShellUser {
  try {
    const info = userInfo();
    return { name: info.username, uid: info.uid, gid: info.gid, home: info.homedir };
  } catch {
    const uid = process.getuid?.() ?? 0;
    const name = env.USER || (uid === 0 ? 'root' : String(uid));
    return { name, uid, gid: process.getgid?.() ?? 0, home: env.HOME || (uid === 0 ? '/root' : '/') };
  }
}
