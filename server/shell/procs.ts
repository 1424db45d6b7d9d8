// Finding and ending every process a shell session started, background jobs included: they all
// share the session id of the shell (node-pty makes the shell a session leader).
import { readdirSync, readFileSync } from 'node:fs';

/** Pids whose session id is `sid` (Linux /proc; empty elsewhere). */
export function sessionMembers(sid: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      // Fields after "(comm)": state ppid pgrp session ...
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[3]) === sid) pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

/** Sends `signal` to the shell and every process in its session. */
export function killSession(sid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  const pids = new Set([sid, ...sessionMembers(sid)]);
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}
