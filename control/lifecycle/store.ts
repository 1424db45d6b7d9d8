// The runtimes as the service keeps them: one SQLite file (<stateDir>/state.db, WAL with
// synchronous=NORMAL: a commit is in the WAL file before the call returns, so a service killed at
// any point, SIGKILL included, finds every runtime again with its clocks; only a crash of the
// machine itself could lose the last commits, and those runtimes' sandboxes went with it).
// FULL fsynced every commit on the event loop: 50 concurrent starts spent 1.2 s blocked in it. The file holds the runtimes' keys: it is 0600 in a 0700 directory.
import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import type { PodStatus, RuntimeStatus } from '@runtime-client/protocol';
import type { RuntimeRecord } from './api.js';

/** A runtime as stored: the record plus what only the service needs. */
export interface StoredRuntime extends RuntimeRecord {
  /** A warm-pool sandbox not yet handed out (no session, no clocks). */
  warm: boolean;
  /** Why it stopped (expired, idle too long, a failed start...); null while it lives. */
  stopReason: string | null;
  /** When its sandbox last died behind the service's back (ms since the epoch): the crash-loop rule's clock. */
  lastDeathAt?: number | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runtimes (
  runtime_id TEXT PRIMARY KEY,
  session_id TEXT,
  image TEXT NOT NULL,
  status TEXT NOT NULL,
  pod_status TEXT NOT NULL,
  api_key TEXT NOT NULL,
  sandbox_id TEXT,
  direct_url TEXT,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  last_activity_at INTEGER NOT NULL,
  paused_at INTEGER,
  idle_timeout_seconds INTEGER NOT NULL,
  cpus REAL NOT NULL,
  memory_mb INTEGER NOT NULL,
  restart_count INTEGER NOT NULL DEFAULT 0,
  restart_reasons TEXT NOT NULL DEFAULT '[]',
  warm INTEGER NOT NULL DEFAULT 0,
  stop_reason TEXT,
  last_death_at INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS one_live_runtime_per_session ON runtimes (session_id) WHERE status != 'stopped' AND session_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS runtimes_by_status ON runtimes (status);
`;

interface Row {
  runtime_id: string;
  session_id: string | null;
  image: string;
  status: string;
  pod_status: string;
  api_key: string;
  sandbox_id: string | null;
  direct_url: string | null;
  created_at: number;
  expires_at: number;
  last_activity_at: number;
  paused_at: number | null;
  idle_timeout_seconds: number;
  cpus: number;
  memory_mb: number;
  restart_count: number;
  restart_reasons: string;
  warm: number;
  stop_reason: string | null;
  last_death_at: number | null;
}

const COLUMNS: Record<keyof StoredRuntime, keyof Row> = {
  runtimeId: 'runtime_id',
  sessionId: 'session_id',
  image: 'image',
  status: 'status',
  podStatus: 'pod_status',
  apiKey: 'api_key',
  sandboxId: 'sandbox_id',
  directUrl: 'direct_url',
  createdAt: 'created_at',
  expiresAt: 'expires_at',
  lastActivityAt: 'last_activity_at',
  pausedAt: 'paused_at',
  idleTimeoutSeconds: 'idle_timeout_seconds',
  cpus: 'cpus',
  memoryMb: 'memory_mb',
  restartCount: 'restart_count',
  restartReasons: 'restart_reasons',
  warm: 'warm',
  stopReason: 'stop_reason',
  lastDeathAt: 'last_death_at',
};

function fromRow(row: Row): StoredRuntime {
  return {
    runtimeId: row.runtime_id,
    sessionId: row.session_id ?? '',
    image: row.image,
    status: row.status as RuntimeStatus,
    podStatus: row.pod_status as PodStatus,
    apiKey: row.api_key,
    sandboxId: row.sandbox_id,
    directUrl: row.direct_url,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    lastActivityAt: row.last_activity_at,
    pausedAt: row.paused_at,
    idleTimeoutSeconds: row.idle_timeout_seconds,
    cpus: row.cpus,
    memoryMb: row.memory_mb,
    restartCount: row.restart_count,
    restartReasons: JSON.parse(row.restart_reasons) as string[],
    warm: row.warm === 1,
    stopReason: row.stop_reason,
    lastDeathAt: row.last_death_at ?? null,
  };
}

function toColumn(key: keyof StoredRuntime, value: unknown): unknown {
  if (key === 'restartReasons') return JSON.stringify(value);
  if (key === 'warm') return value ? 1 : 0;
  if (key === 'sessionId') return value === '' ? null : value;
  return value ?? null;
}

/**
 * The SQLite store. Live runtimes (not stopped) are also kept in memory, so reads cost no query;
 * every change goes to the file first (synced) and then to memory.
 */
export class Store {
  private readonly db: Database.Database;
  private readonly live = new Map<string, StoredRuntime>();
  /** This state dir's id: the service label on its sandboxes. */
  readonly serviceId: string;

  constructor(stateDir: string) {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    if ((statSync(stateDir).mode & 0o077) !== 0) chmodSync(stateDir, 0o700);
    const file = join(stateDir, 'state.db');
    this.db = new Database(file);
    chmodSync(file, 0o600);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    // A state dir made before the crash-loop rule: its table gains the column.
    const columns = (this.db.prepare(`PRAGMA table_info(runtimes)`).all() as { name: string }[]).map((c) => c.name);
    if (!columns.includes('last_death_at')) this.db.exec(`ALTER TABLE runtimes ADD COLUMN last_death_at INTEGER`);
    for (const suffix of ['-wal', '-shm']) {
      try {
        chmodSync(file + suffix, 0o600);
      } catch {
        // not there (yet): SQLite makes them with the main file's mode
      }
    }
    this.db.prepare(`INSERT OR IGNORE INTO meta (key, value) VALUES ('service_id', ?)`).run(randomBytes(8).toString('hex'));
    this.serviceId = (this.db.prepare(`SELECT value FROM meta WHERE key = 'service_id'`).get() as { value: string }).value;
    for (const row of this.db.prepare(`SELECT * FROM runtimes WHERE status != 'stopped'`).all() as Row[]) {
      this.live.set(row.runtime_id, fromRow(row));
    }
  }

  /** A new runtime; throws when its session already has a live one (the unique index). */
  insert(record: StoredRuntime): StoredRuntime {
    const keys = Object.keys(COLUMNS) as (keyof StoredRuntime)[];
    const sql = `INSERT INTO runtimes (${keys.map((k) => COLUMNS[k]).join(', ')}) VALUES (${keys.map(() => '?').join(', ')})`;
    this.db.prepare(sql).run(...keys.map((k) => toColumn(k, record[k])));
    const copy = { ...record, restartReasons: [...record.restartReasons] };
    if (copy.status !== 'stopped') this.live.set(copy.runtimeId, copy);
    return copy;
  }

  /** Writes these fields of one runtime (synced), then returns the whole record. */
  update(runtimeId: string, changes: Partial<StoredRuntime>): StoredRuntime {
    const keys = (Object.keys(changes) as (keyof StoredRuntime)[]).filter((k) => k !== 'runtimeId');
    if (keys.length) {
      const sql = `UPDATE runtimes SET ${keys.map((k) => `${COLUMNS[k]} = ?`).join(', ')} WHERE runtime_id = ?`;
      this.db.prepare(sql).run(...keys.map((k) => toColumn(k, changes[k])), runtimeId);
    }
    const before = this.live.get(runtimeId);
    const after = before ? { ...before, ...changes } : this.get(runtimeId);
    if (!after) throw new Error(`no runtime ${runtimeId} in the store`);
    if (after.status === 'stopped') this.live.delete(runtimeId);
    else this.live.set(runtimeId, after);
    return after;
  }

  /** Changes a live runtime in memory only (a touch between the ones written: see Lifecycle.touch). */
  setInMemory(runtimeId: string, changes: Partial<StoredRuntime>): void {
    const before = this.live.get(runtimeId);
    if (before) this.live.set(runtimeId, { ...before, ...changes });
  }

  /** Forgets a runtime that never had a sandbox (a start refused by the backend: nothing was made). */
  delete(runtimeId: string): void {
    this.db.prepare(`DELETE FROM runtimes WHERE runtime_id = ?`).run(runtimeId);
    this.live.delete(runtimeId);
  }

  get(runtimeId: string): StoredRuntime | undefined {
    const cached = this.live.get(runtimeId);
    if (cached) return cached;
    const row = this.db.prepare(`SELECT * FROM runtimes WHERE runtime_id = ?`).get(runtimeId) as Row | undefined;
    return row && fromRow(row);
  }

  /** The session's live runtime, else its latest stopped one. */
  bySession(sessionId: string): StoredRuntime | undefined {
    for (const r of this.live.values()) if (r.sessionId === sessionId) return r;
    const row = this.db.prepare(`SELECT * FROM runtimes WHERE session_id = ? ORDER BY created_at DESC LIMIT 1`).get(sessionId) as Row | undefined;
    return row && fromRow(row);
  }

  /** The runtimes that are not stopped (warm ones included), from memory. */
  liveRuntimes(): StoredRuntime[] {
    return [...this.live.values()];
  }

  /** Every runtime with this status (stopped ones from the file), warm ones excluded. */
  list(status?: RuntimeStatus): StoredRuntime[] {
    if (status && status !== 'stopped') return this.liveRuntimes().filter((r) => r.status === status && !r.warm);
    const rows = (status ? this.db.prepare(`SELECT * FROM runtimes WHERE status = ? AND warm = 0 ORDER BY created_at`).all(status) : this.db.prepare(`SELECT * FROM runtimes WHERE warm = 0 ORDER BY created_at`).all()) as Row[];
    return rows.map((row) => this.live.get(row.runtime_id) ?? fromRow(row));
  }

  /** Stopped runtimes older than this (ms since the epoch) are forgotten. */
  prune(stoppedBefore: number): number {
    return this.db.prepare(`DELETE FROM runtimes WHERE status = 'stopped' AND created_at < ?`).run(stoppedBefore).changes;
  }

  close(): void {
    this.db.close();
  }
}
