// Every action by id, for idempotent replay (`id` seen twice runs once) and GET /actions/{id}.
// Finished actions are kept within a count, an age and a byte budget; running ones always.
import { ActionRecord } from './record.js';

export interface StoreLimits {
  /** Finished actions always kept, newest first (unless over maxBytes). Default 1000. */
  keepCount?: number;
  /** Finished actions younger than this are kept too (unless over maxBytes), in ms. Default 15 minutes. */
  keepMs?: number;
  /** Never more finished actions than this, whatever their age. Default 10000. */
  maxCount?: number;
  /** Raw output kept across all finished actions, in bytes; older windows are dropped first. Default 16 MiB. */
  maxOutputBytes?: number;
  /**
   * Finished actions together (observation and raw output, estimated) stay within this, in bytes:
   * the oldest are evicted first. The newest finished action is kept whatever its size. Default 32 MiB.
   */
  maxBytes?: number;
  /**
   * Called when a finished record leaves the store (to delete what it points to, such as a spill
   * file). It must handle its own failures: what it throws is ignored.
   */
  onEvict?: (record: ActionRecord) => void;
}

export class ActionStore {
  private readonly records = new Map<string, ActionRecord>();
  /** Finished ids, oldest first. */
  private finished: string[] = [];
  private readonly keepCount: number;
  private readonly keepMs: number;
  private readonly maxCount: number;
  private readonly maxOutputBytes: number;
  private readonly maxBytes: number;
  private readonly onEvict: (record: ActionRecord) => void;

  constructor(limits: StoreLimits = {}) {
    this.keepCount = limits.keepCount ?? 1000;
    this.keepMs = limits.keepMs ?? 15 * 60 * 1000;
    this.maxCount = limits.maxCount ?? 10000;
    this.maxOutputBytes = limits.maxOutputBytes ?? 16 * 1024 * 1024;
    this.maxBytes = limits.maxBytes ?? 32 * 1024 * 1024;
    this.onEvict = limits.onEvict ?? (() => {});
  }

  get(id: string): ActionRecord | undefined {
    return this.records.get(id);
  }

  /** Finished actions held, and their estimated bytes. */
  get usage(): { finished: number; bytes: number } {
    let bytes = 0;
    for (const id of this.finished) bytes += this.records.get(id)!.retainedBytes;
    return { finished: this.finished.length, bytes };
  }

  /**
   * The record for `id`, and whether it is new (the caller must then run the action).
   * `fingerprint` identifies the action (see ActionRecord.fingerprint); the caller compares it on replay.
   */
  claim(id: string, kind: string, session: string, fingerprint = ''): { record: ActionRecord; fresh: boolean } {
    const existing = this.records.get(id);
    if (existing) return { record: existing, fresh: false };
    const record = new ActionRecord(id, kind, session, fingerprint);
    this.records.set(id, record);
    record.done.then(() => this.retire(record));
    return { record, fresh: true };
  }

  private retire(record: ActionRecord): void {
    this.finished.push(record.id);
    const now = Date.now();
    let drop = 0;
    while (this.finished.length - drop > this.keepCount) {
      const oldest = this.records.get(this.finished[drop]!)!;
      const tooMany = this.finished.length - drop > this.maxCount;
      if (!tooMany && now - oldest.finishedAt! < this.keepMs) break;
      drop++;
    }
    // Output windows first (newest kept), then whole records, oldest first, while over budget.
    let outputBytes = 0;
    let bytes = 0;
    for (let i = this.finished.length - 1; i >= drop; i--) {
      const r = this.records.get(this.finished[i]!)!;
      outputBytes += r.outputBytes;
      if (outputBytes > this.maxOutputBytes) r.dropOutput();
      bytes += r.retainedBytes;
    }
    while (bytes > this.maxBytes && this.finished.length - drop > 1) {
      bytes -= this.records.get(this.finished[drop]!)!.retainedBytes;
      drop++;
    }
    if (!drop) return;
    const evicted = this.finished.slice(0, drop);
    this.finished = this.finished.slice(drop);
    for (const id of evicted) {
      const gone = this.records.get(id)!;
      this.records.delete(id);
      try {
        this.onEvict(gone);
      } catch {
        // documented: the callback reports its own failures; the other evictions still happen
      }
    }
  }
}
