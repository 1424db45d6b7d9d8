// The output of one observation: kept whole up to a limit, beyond it the head and the tail in
// memory and the whole in a file, so memory stays bounded whatever a command prints.
import { closeSync, openSync, writeSync } from 'node:fs';

export interface CapturedOutput {
  text: string;
  truncated: boolean;
  /** Characters the command printed in this observation. */
  totalChars: number;
  /** The file holding the whole output, when truncated. */
  fullOutputPath?: string;
}

export class OutputCapture {
  private parts: string[] = [];
  private size = 0;
  private head = '';
  private tailParts: string[] = [];
  private tailSize = 0;
  private fd: number | null = null;
  private path: string | null = null;

  /**
   * @param maxChars content longer than this is truncated to about half head, half tail.
   * @param spillPath called once, when the limit is first exceeded: where to write the whole.
   * @param onSpill called with the opened path (to chown it to the session user).
   */
  constructor(
    private readonly maxChars: number,
    private readonly spillPath: () => string,
    private readonly onSpill: (path: string) => void = () => {},
  ) {}

  get length(): number {
    return this.size;
  }

  push(text: string): void {
    if (!text) return;
    this.size += text.length;
    if (this.fd === null) {
      this.parts.push(text);
      if (this.size > this.maxChars) this.spill();
      return;
    }
    writeSync(this.fd, text);
    this.pushTail(text);
  }

  /** Everything since the last take; resets for the next observation. */
  take(): CapturedOutput {
    const totalChars = this.size;
    let result: CapturedOutput;
    if (this.fd === null) {
      result = { text: this.parts.join(''), truncated: false, totalChars };
    } else {
      closeSync(this.fd);
      const tail = this.tailParts.join('').slice(-this.tailBudget());
      const omitted = totalChars - this.head.length - tail.length;
      const note =
        `\n[... Observation truncated due to length: ${omitted} characters omitted. ` +
        `The whole output (${totalChars} characters) is in ${this.path} ...]\n`;
      result = { text: this.head + note + tail, truncated: true, totalChars, fullOutputPath: this.path! };
    }
    this.parts = [];
    this.size = 0;
    this.head = '';
    this.tailParts = [];
    this.tailSize = 0;
    this.fd = null;
    this.path = null;
    return result;
  }

  private tailBudget(): number {
    return this.maxChars - Math.floor(this.maxChars / 2);
  }

  private spill(): void {
    const all = this.parts.join('');
    this.parts = [];
    this.path = this.spillPath();
    this.fd = openSync(this.path, 'w', 0o600);
    this.onSpill(this.path);
    writeSync(this.fd, all);
    this.head = all.slice(0, Math.floor(this.maxChars / 2));
    this.pushTail(all.slice(this.head.length));
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
