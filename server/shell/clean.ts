// Turns raw terminal output into text for `content`: ANSI escape sequences and stray control
// bytes removed, CRLF folded to LF. Streaming: a sequence split across chunks is carried over.

/** CSI, OSC (BEL or ST terminated), DCS/SOS/PM/APC strings, and two/three-byte ESC sequences. */
const ESCAPES =
  /\x1b\[[0-?]*[ -/]*[@-~]|\x9b[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[PX^_][^\x1b]*\x1b\\|\x1b[ -/]*[0-~]/g;
/** C0 controls other than TAB, LF and CR (stray ESC included), DEL, and C1 controls. */
const CONTROLS = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]/g;
/** Any byte clean() may remove or change: the controls, ESC and CSI, and CR. */
const NEEDS_WORK = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/;
/** A sequence, starting at an ESC, that is not finished yet. */
const INCOMPLETE = /^\x1b(?:\[[0-?]*[ -/]*|\][^\x07\x1b]*\x1b?|[PX^_][^\x1b]*\x1b?|[ -/]*)$/;
/** An OSC or string sequence still open (its terminating ESC \ may be the lone ESC after it). */
const OPEN_STRING = /^\x1b[\]PX^_][^\x07\x1b]*$/;
/** An unterminated sequence longer than this is dropped rather than carried forever. */
const MAX_CARRY = 4096;

export class TextCleaner {
  private carry = '';

  /** Nothing held back: a chunk of plain text would come out as it went in. */
  get idle(): boolean {
    return this.carry === '';
  }

  /** Cleans `chunk`, holding back an unfinished escape sequence or a trailing CR. */
  push(chunk: string): string {
    const s = this.carry + chunk;
    const cut = incompleteTail(s);
    this.carry = s.slice(cut);
    return clean(cut === s.length ? s : s.slice(0, cut));
  }

  /**
   * What is held back, cleaned (at the end of an observation). An unfinished CSI or ESC sequence
   * is dropped. A string sequence (OSC, DCS...) that was opened and never ended loses only its
   * opener: it is most likely stray bytes (a binary file printed), and the text after it is the
   * command's output, as it is when such a string outgrows MAX_CARRY.
   */
  flush(): string {
    const rest = this.carry;
    this.carry = '';
    if (/^\x1b[\]PX^_]/.test(rest)) return clean(rest.slice(2));
    return clean(rest.startsWith('\x1b') ? '' : rest);
  }
}

/** Where the unfinished tail of `s` begins (s.length when there is none). */
function incompleteTail(s: string): number {
  const from = Math.max(0, s.length - MAX_CARRY);
  // Only the last MAX_CARRY characters can hold it: a big chunk is not scanned whole.
  const inTail = (from ? s.slice(from) : s).lastIndexOf('\x1b');
  const esc = inTail === -1 ? -1 : from + inTail;
  if (esc >= from) {
    if (esc === s.length - 1) {
      const open = s.lastIndexOf('\x1b', esc - 1);
      if (open >= from && OPEN_STRING.test(s.slice(open, esc))) return open;
      return esc;
    }
    if (INCOMPLETE.test(s.slice(esc))) return esc;
  }
  return s.endsWith('\r') ? s.length - 1 : s.length;
}

/** Bytes clean() acts on that ASCII text can hold (C1 controls are not ASCII). */
const CONTROL_BYTES = [...Array(0x20).keys()].filter((b) => b !== 0x09 && b !== 0x0a).concat(0x7f);

/**
 * True when ASCII `bytes` hold a byte clean() would act on. Native byte searches, one per value:
 * several times faster over a big chunk than the regular expression over its text.
 */
export function hasControlBytes(bytes: Buffer): boolean {
  for (const b of CONTROL_BYTES) if (bytes.indexOf(b) !== -1) return true;
  return false;
}

/** Cleans a complete piece of terminal output; each pass runs only when its bytes are present. */
export function clean(s: string): string {
  // One scan for the common case, plain text: nothing below runs.
  NEEDS_WORK.lastIndex = 0;
  if (!NEEDS_WORK.test(s)) return s;
  if (s.includes('\x1b') || s.includes('\x9b')) s = s.replace(ESCAPES, '');
  if (s.includes('\r')) s = s.replace(/\r+\n/g, '\n');
  CONTROLS.lastIndex = 0;
  if (CONTROLS.test(s)) s = s.replace(CONTROLS, '');
  return s;
}
