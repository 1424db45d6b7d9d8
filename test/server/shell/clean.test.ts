// Cleaning terminal output for `content`.
import { describe, expect, it } from 'vitest';
import { TextCleaner, clean, hasControlBytes } from '../../../server/shell/clean.js';

describe('clean', () => {
  it('removes CSI, OSC and charset escapes and folds CRLF', () => {
    expect(clean('\x1b[1;31mred\x1b[0m\r\n\x1b]0;title\x07\x1b(Bok\r\n')).toBe('red\nok\n');
  });

  it('drops stray control bytes but keeps tabs and a lone CR', () => {
    expect(clean('a\x00b\x08c\td\re\x1b')).toBe('abc\td\re');
  });
});

describe('TextCleaner', () => {
  it('handles an escape or a CRLF split across chunks at every point', () => {
    const whole = 'one\r\n\x1b[38;5;196mtwo\x1b[0m\r\n\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\\r\n';
    for (let i = 1; i < whole.length; i++) {
      const cleaner = new TextCleaner();
      const text = cleaner.push(whole.slice(0, i)) + cleaner.push(whole.slice(i)) + cleaner.flush();
      expect(text, `split at ${i}`).toBe('one\ntwo\nlink\n');
    }
  });

  it('keeps a trailing CR at the very end', () => {
    const cleaner = new TextCleaner();
    expect(cleaner.push('progress\r') + cleaner.flush()).toBe('progress\r');
  });

  it('keeps the text after a string sequence that was opened and never ended', () => {
    // Random bytes can open an OSC or DCS string; the output after them must not vanish.
    for (const opener of ['\x1b]', '\x1bP', '\x1b_']) {
      const cleaner = new TextCleaner();
      const text = cleaner.push(`bin${opener}ary\r\n`) + cleaner.push('done\r\n') + cleaner.flush();
      expect(text, JSON.stringify(opener)).toBe('binary\ndone\n');
    }
  });

  it('keeps every line after random bytes', () => {
    for (let i = 0; i < 2000; i++) {
      const cleaner = new TextCleaner();
      const noise = String.fromCharCode(...Array.from({ length: 600 }, () => Math.floor(Math.random() * 256)));
      const text = cleaner.push(noise) + cleaner.push('\r\ndone\r\n') + cleaner.flush();
      expect(text.endsWith('\ndone\n'), `run ${i}`).toBe(true);
    }
  });

  it('hasControlBytes finds every ASCII byte clean() would act on, and passes printable text, tabs and line feeds', () => {
    for (let b = 0; b < 0x80; b++) {
      const text = `abc${String.fromCharCode(b)}def`;
      const found = hasControlBytes(Buffer.from(text, 'latin1'));
      if (clean(text) !== text || clean(`${text}\r\n`) !== `${text}\n`) expect(found, `byte ${b}`).toBe(true);
      expect(found, `byte ${b}`).toBe(!(b === 0x09 || b === 0x0a || (b >= 0x20 && b < 0x7f)));
    }
  });
});
