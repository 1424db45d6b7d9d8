// The named sessions of one server, created on first use, plus throwaway ones for static
// commands. Sessions can be listed, ended and reset; past the cap, the session idle longest is
// ended to make room for a new one.
import { mkdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { ApiError } from '../errors.js';
import { SESSION_NAME_PATTERN, type SessionInfo } from '@runtime-client/protocol';
import { CommandRunner, type RunnerOptions } from './runner.js';

export interface PoolOptions extends Omit<RunnerOptions, 'dir'> {
  /** Parent of every session's directory. */
  runtimeDir: string;
  /** The most named sessions at once; past it the longest-idle one is ended. Default 100. */
  maxSessions?: number;
  /** Told when a session is ended to make room (for the log). */
  onEvict?: (name: string) => void;
}

/** The session that /alive waits for; never evicted. */
export const DEFAULT_SESSION = 'default';

export class SessionPool {
  private readonly sessions = new Map<string, CommandRunner>();
  private readonly throwaways = new Set<CommandRunner>();
  private throwawayCount = 0;

  constructor(private readonly options: PoolOptions) {
    mkdirSync(join(options.runtimeDir, 'sessions'), { recursive: true, mode: 0o711 });
    mkdirSync(join(options.runtimeDir, 'static'), { recursive: true, mode: 0o711 });
  }

  /** The session called `name`, started in the working dir on first use. */
  get(name: string): CommandRunner {
    let runner = this.sessions.get(name);
    if (!runner) {
      checkName(name);
      this.makeRoom();
      runner = new CommandRunner({ ...this.options, dir: join(this.options.runtimeDir, 'sessions', name) });
      this.sessions.set(name, runner);
    }
    return runner;
  }

  /** What GET /sessions says of the session called `name`, if it exists. */
  info(name: string): SessionInfo | undefined {
    const runner = this.sessions.get(name);
    return runner && describe(name, runner, Date.now());
  }

  /** Ends the session and everything it started; an action waiting on it completes. False if there is none. */
  async end(name: string): Promise<boolean> {
    const runner = this.sessions.get(name);
    if (!runner) return false;
    this.sessions.delete(name);
    await runner.close();
    removeIfEmpty(join(this.options.runtimeDir, 'sessions', name));
    return true;
  }

  /** Ends the session (if any) and starts a fresh one under the same name; resolves when it is ready or found slow. */
  async reset(name: string): Promise<CommandRunner> {
    checkName(name);
    await this.end(name);
    return this.get(name);
  }

  /** A fresh session for one command, in `cwd`; close it when done. */
  throwaway(cwd: string | undefined): { runner: CommandRunner; dispose: () => void } {
    const dir = join(this.options.runtimeDir, 'static', String(++this.throwawayCount));
    const runner = new CommandRunner({ ...this.options, cwd: cwd ?? this.options.cwd, dir });
    this.throwaways.add(runner);
    return {
      runner,
      dispose: () => {
        this.throwaways.delete(runner);
        void runner.close().then(() => removeIfEmpty(dir));
      },
    };
  }

  list(): SessionInfo[] {
    const now = Date.now();
    return [...this.sessions].map(([name, r]) => describe(name, r, now));
  }

  /** Ends every shell and all they started; resolves when they are gone. */
  async closeAll(): Promise<void> {
    const all = [...this.sessions.values(), ...this.throwaways];
    this.sessions.clear();
    this.throwaways.clear();
    await Promise.all(all.map((r) => r.close()));
  }

  /** At the cap, ends the session idle longest (never `default`, never one in use). */
  private makeRoom(): void {
    const max = this.options.maxSessions ?? 100;
    if (this.sessions.size < max) return;
    let oldest: [string, CommandRunner] | null = null;
    for (const entry of this.sessions) {
      const [name, r] = entry;
      if (name === DEFAULT_SESSION || !r.idle) continue;
      if (!oldest || r.lastUsedAt < oldest[1].lastUsedAt) oldest = entry;
    }
    if (!oldest) throw new ApiError('conflict', `all ${max} sessions are in use; end one (DELETE /sessions/{name}) or wait`);
    this.options.onEvict?.(oldest[0]);
    void this.end(oldest[0]);
  }
}

function describe(name: string, r: CommandRunner, now: number): SessionInfo {
  return { name, pid: r.pid, cwd: r.cwd, busy: r.busy, state: r.state, idle_seconds: Math.round((now - r.lastUsedAt) / 100) / 10 };
}

/** Session names become directory names: the pattern refuses `.`, `..` and anything with a slash. */
function checkName(name: string): void {
  if (!SESSION_NAME_PATTERN.test(name)) {
    throw new ApiError('bad_request', `session: ${JSON.stringify(name)} is not a session name (1-64 characters of A-Z a-z 0-9 _ . -, not starting with a dot)`);
  }
}

function removeIfEmpty(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // spill files still referenced by stored results keep it
  }
}
