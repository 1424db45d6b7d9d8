// Turns raw terminal output into text for `content`: ANSI escape sequences and stray control
// bytes removed, CRLF folded to LF. Streaming: a sequence split across chunks is carried over.

/** CSI, OSC (BEL or ST terminated), DCS/SOS/PM/APC strings, and two/three-byte ESC sequences. */
const ESCAPES =
  /\x1b\[[0-?]*[ -/]*[@-~]|\x9b[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[PX^_][^\x1b]*\x1b\\|\x1b[ -/]*[0-~]/g;
/** C0 controls other than TAB, LF and CR (stray ESC included), DEL, and C1 controls. */
const CONTROLS = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]/g;
/** An escape sequence that may still be incomplete at the end of a chunk. */
const TAIL = /(?:\x1b(?:\[[0-?]*[ -/]*|\][^\x07\x1b]*\x1b?|[PX^_][^\x1b]*\x1b?|[ -/]*)?|\r)$/;
/** An unterminated sequence longer than this is dropped rather than carried forever. */
const MAX_CARRY = 4096;

export class TextCleaner {
  private carry = '';

  /** Cleans `chunk`, holding back an unfinished escape sequence or a trailing CR. */
  push(chunk: string): string {
    let s = this.carry + chunk;
    this.carry = '';
    const tail = TAIL.exec(s);
    if (tail && tail[0].length > 0) {
      if (tail[0].length <= MAX_CARRY) this.carry = tail[0];
      s = s.slice(0, tail.index);
    }
    return clean(s);
  }

  /** What is held back, cleaned (at the end of an observation). */
  flush(): string {
    const rest = this.carry;
    this.carry = '';
    return clean(rest.startsWith('\x1b') ? '' : rest);
  }
}

/** Cleans a complete piece of terminal output. */
export function clean(s: string): string {
  return s.replace(ESCAPES, '').replace(/\r+\n/g, '\n').replace(CONTROLS, '');
}
