// Every action by id, for idempotent replay (`id` seen twice runs once) and GET /actions/{id}.
import { ActionRecord } from './record.js';

export interface StoreLimits {
  /** Finished actions always kept, newest first. Default 1000. */
  keepCount?: number;
  /** Finished actions younger than this are kept too, in ms. Default 15 minutes. */
  keepMs?: number;
  /** Never more finished actions than this, whatever their age. Default 10000. */
  maxCount?: number;
  /** Raw output kept across all finished actions, in bytes. Default 64 MiB. */
  maxOutputBytes?: number;
}

export class ActionStore {
  private readonly records = new Map<string, ActionRecord>();
  /** Finished ids, oldest first. */
  private finished: string[] = [];
  private readonly keepCount: number;
  private readonly keepMs: number;
  private readonly maxCount: number;
  private readonly maxOutputBytes: number;

  constructor(limits: StoreLimits = {}) {
    this.keepCount = limits.keepCount ?? 1000;
    this.keepMs = limits.keepMs ?? 15 * 60 * 1000;
    this.maxCount = limits.maxCount ?? 10000;
    this.maxOutputBytes = limits.maxOutputBytes ?? 64 * 1024 * 1024;
  }

  get(id: string): ActionRecord | undefined {
    return this.records.get(id);
  }

  /** The record for `id`, and whether it is new (the caller must then run the action). */
  claim(id: string, kind: string, session: string): { record: ActionRecord; fresh: boolean } {
    const existing = this.records.get(id);
    if (existing) return { record: existing, fresh: false };
    const record = new ActionRecord(id, kind, session);
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
      this.records.delete(oldest.id);
      drop++;
    }
    if (drop) this.finished = this.finished.slice(drop);
    let bytes = 0;
    for (let i = this.finished.length - 1; i >= 0; i--) {
      const r = this.records.get(this.finished[i]!)!;
      bytes += r.retainedBytes;
      if (bytes > this.maxOutputBytes) r.dropOutput();
    }
  }
}
