// How many bytes an unpack may write. A zip bomb (1 MB of deflated zeros is 1 GB on disk) is
// refused before anything is written when its declared sizes already say so, and by the bytes
// actually written when they do not.
import { ArchiveTooLargeError } from './entries.js';

/** Limits on one unpack. */
export interface UnpackLimits {
  /** Bytes the archive may unpack to (file data and symlink targets). Default: no limit. */
  maxBytes?: number;
}

export class UnpackBudget {
  #spent = 0;

  /** `limitBytes`: what the archive may unpack to, in bytes (Infinity: no limit). */
  constructor(readonly limitBytes: number) {}

  /** Bytes counted so far. */
  get spentBytes(): number {
    return this.#spent;
  }

  /** Throws when `declaredBytes`, what the archive says it holds in all, is over the limit. */
  checkDeclared(declaredBytes: number): void {
    if (declaredBytes > this.limitBytes) throw this.#tooLarge();
  }

  /** Counts `bytes` about to be written; throws (counting nothing) when they would pass the limit. */
  spend(bytes: number): void {
    if (this.#spent + bytes > this.limitBytes) throw this.#tooLarge();
    this.#spent += bytes;
  }

  #tooLarge(): ArchiveTooLargeError {
    return new ArchiveTooLargeError(`the archive unpacks to more than ${describeBytes(this.limitBytes)}; nothing was extracted`, this.limitBytes);
  }
}

/** `n` in MiB when it is a whole number of them, else in bytes. */
export function describeBytes(n: number): string {
  return n >= 2 ** 20 && n % 2 ** 20 === 0 ? `${n / 2 ** 20} MiB` : `${n} bytes`;
}
