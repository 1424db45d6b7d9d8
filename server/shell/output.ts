// The output of one observation: kept whole up to a limit, beyond it the head and the tail in
// memory and the whole in a spill file, so memory stays bounded whatever a command prints.
// Nothing a command does can make this throw: when the file cannot be created or written (a full
// disk, the spill budget used up), the head and tail are still returned, and the note says how
// much of the output was saved and why not all.
import { closeSync, writeSync } from 'node:fs';
import type { SpillFiles } from './spill.js';

export interface CapturedOutput {
  text: string;
  truncated: boolean;
  /** Characters the command printed in this observation. */
  totalChars: number;
  /** The file holding the whole output (or its first part, see `text`), when truncated. */
  fullOutputPath?: string;
}

/** Where the whole of a long output goes. */
export interface SpillTarget {
  files: SpillFiles;
  /** Creates the file; its errors are caught and reported in the note. */
  create(): { fd: number; path: string };
}

export class OutputCapture {
  private parts: string[] = [];
  private size = 0;
  private head = '';
  private tailParts: string[] = [];
  private tailSize = 0;
  private spilling = false;
  private fd: number | null = null;
  private path: string | null = null;
  /** Characters written to the file so far. */
  private savedChars = 0;
  /** Why the file stopped (or never started) receiving output. */
  private failure: string | null = null;

  /** @param maxChars content longer than this is truncated to about half head, half tail. */
  constructor(
    private readonly maxChars: number,
    private readonly target: SpillTarget,
  ) {}

  get length(): number {
    return this.size;
  }

  /** `encoded`, when the caller has it, is `text` as UTF-8 (written to the file as it is). */
  push(text: string, encoded?: Buffer): void {
    if (!text) return;
    this.size += text.length;
    if (!this.spilling) {
      this.parts.push(text);
      if (this.size > this.maxChars) this.spill();
      return;
    }
    this.save(text, encoded);
    this.pushTail(text);
  }

  /**
   * Plain text (ASCII, no control byte) as its bytes: once spilling, only its tail becomes a
   * string; the rest goes to the file as it is.
   */
  pushAscii(bytes: Buffer): void {
    if (!bytes.length) return;
    if (!this.spilling) return this.push(bytes.toString('latin1'));
    this.size += bytes.length;
    this.save(null, bytes);
    const budget = this.tailBudget();
    this.pushTail(bytes.toString('latin1', Math.max(0, bytes.length - budget)));
  }

  /** Everything since the last take; resets for the next observation. */
  take(): CapturedOutput {
    const totalChars = this.size;
    let result: CapturedOutput;
    if (!this.spilling) {
      result = { text: this.parts.join(''), truncated: false, totalChars };
    } else {
      this.closeFile();
      const held = this.tailParts.join('');
      let where: string;
      if (this.failure === null) where = `The whole output (${totalChars} characters) is in ${this.path}`;
      else if (this.path && this.savedChars > 0) where = `Only its first ${this.savedChars} characters could be saved, in ${this.path}: ${this.failure}`;
      else where = `The full output could not be saved: ${this.failure}`;
      const noteFor = (headChars: number, tailChars: number) =>
        `\n[... Observation truncated due to length: ${totalChars - headChars - tailChars} characters omitted. ${where} ...]\n`;
      // Head, note and tail together stay within maxChars: a client that cuts longer content
      // again (OpenHands cuts at 30,000) would cut the note, and the path with it. (When the note
      // alone would take over a quarter of maxChars, as with a tiny limit, the halves are kept.)
      let headChars = this.head.length;
      let tailChars = Math.min(held.length, this.tailBudget());
      const noteChars = noteFor(headChars, tailChars).length + 2; // the count may lose a digit or two
      if (noteChars <= this.maxChars / 4 && headChars + noteChars + tailChars > this.maxChars) {
        const room = this.maxChars - noteChars;
        headChars = Math.min(headChars, Math.floor(room / 2));
        tailChars = Math.min(tailChars, room - headChars);
      }
      const head = this.head.slice(0, headChars);
      const tail = tailChars > 0 ? held.slice(-tailChars) : '';
      result = { text: head + noteFor(head.length, tail.length) + tail, truncated: true, totalChars, ...(this.path ? { fullOutputPath: this.path } : {}) };
    }
    this.parts = [];
    this.size = 0;
    this.head = '';
    this.tailParts = [];
    this.tailSize = 0;
    this.spilling = false;
    this.path = null;
    this.savedChars = 0;
    this.failure = null;
    return result;
  }

  /** Stops writing (the command is over, or its session ended). */
  close(): void {
    this.closeFile();
  }

  private tailBudget(): number {
    return this.maxChars - Math.floor(this.maxChars / 2);
  }

  private spill(): void {
    const all = this.parts.join('');
    this.parts = [];
    this.spilling = true;
    try {
      const { fd, path } = this.target.create();
      this.fd = fd;
      this.path = path;
    } catch (e) {
      this.failure = reason(e);
    }
    this.save(all);
    this.head = all.slice(0, Math.floor(this.maxChars / 2));
    this.pushTail(all.slice(this.head.length));
  }

  private save(text: string | null, encoded?: Buffer): void {
    if (this.fd === null || this.path === null) return;
    const buffer = encoded ?? Buffer.from(text!);
    if (!this.target.files.reserve(this.path, buffer.length)) {
      this.failure = 'the disk budget for saved outputs is used up';
      this.closeFile();
      return;
    }
    try {
      for (let at = 0; at < buffer.length; ) at += writeSync(this.fd, buffer, at);
      this.savedChars += text?.length ?? buffer.length;
    } catch (e) {
      this.failure = reason(e);
      this.closeFile();
    }
  }

  private closeFile(): void {
    if (this.fd === null) return;
    try {
      closeSync(this.fd);
    } catch {
      // the data is written or lost either way
    }
    this.fd = null;
    if (this.path) this.target.files.finished(this.path);
  }

  private pushTail(text: string): void {
    this.tailParts.push(text);
    this.tailSize += text.length;
    const budget = this.tailBudget();
    if (this.tailSize > 2 * budget) {
      const joined = this.tailParts.join('').slice(-budget);
      this.tailParts = [joined];
      this.tailSize = joined.length;
    }
  }
}

function reason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code ? `${err.code} (${err.message})` : String(err?.message ?? e);
}
