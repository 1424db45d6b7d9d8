// The named sessions of one server, created on first use, plus throwaway ones for static commands.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { ApiError } from '../errors.js';
import { CommandRunner, type RunnerOptions } from './runner.js';

export interface PoolOptions extends Omit<RunnerOptions, 'dir'> {
  /** Parent of every session's private directory. */
  runtimeDir: string;
  /** The most named sessions at once. Default 100. */
  maxSessions?: number;
}

export interface SessionInfo {
  name: string;
  pid: number;
  cwd: string;
  busy: boolean;
}

export class SessionPool {
  private readonly sessions = new Map<string, CommandRunner>();
  private readonly throwaways = new Set<CommandRunner>();
  private throwawayCount = 0;

  constructor(private readonly options: PoolOptions) {}

  /** The session called `name`, started in the working dir on first use. */
  get(name: string): CommandRunner {
    let runner = this.sessions.get(name);
    if (!runner) {
      const max = this.options.maxSessions ?? 100;
      if (this.sessions.size >= max) throw new ApiError('conflict', `there are already ${max} sessions; no more can be started`);
      runner = new CommandRunner({ ...this.options, dir: join(this.options.runtimeDir, 'sessions', name) });
      this.sessions.set(name, runner);
    }
    return runner;
  }

  /** A fresh session for one command, in `cwd`; close it when done. */
  throwaway(cwd: string | undefined): { runner: CommandRunner; dispose: () => void } {
    const dir = join(this.options.runtimeDir, 'static', String(++this.throwawayCount));
    const runner = new CommandRunner({ ...this.options, cwd: cwd ?? this.options.cwd, dir });
    this.throwaways.add(runner);
    return {
      runner,
      dispose: () => {
        runner.close();
        this.throwaways.delete(runner);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }

  list(): SessionInfo[] {
    return [...this.sessions].map(([name, r]) => ({ name, pid: r.pid, cwd: r.cwd, busy: r.busy }));
  }

  /** Ends every shell and all they started. */
  closeAll(): void {
    for (const runner of [...this.sessions.values(), ...this.throwaways]) runner.close();
  }
}
