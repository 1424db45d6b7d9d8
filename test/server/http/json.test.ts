// The nesting pre-scan: brackets inside strings never count, whatever escapes precede a quote.
import { describe, expect, it } from 'vitest';
import { depthOverflowAt, parseJson } from '../../../server/http/json.js';

const nested = (n: number) => '['.repeat(n) + ']'.repeat(n);

describe('depthOverflowAt', () => {
  it('counts arrays and objects, and finds the first bracket past the limit', () => {
    expect(depthOverflowAt(nested(100), 100)).toBe(-1);
    expect(depthOverflowAt(nested(101), 100)).toBe(100);
    expect(depthOverflowAt(`{"a":${nested(100)}}`, 100)).toBe(104); // the object is level 1
  });

  it.each([
    ['a plain string', `"${'['.repeat(500)}"`],
    ['an escaped quote', `["\\"${'['.repeat(500)}"]`],
    ['an escaped backslash before the quote', `["\\\\", "${'{'.repeat(500)}"]`],
    ['three backslashes and a quote', `["\\\\\\"${'['.repeat(500)}"]`],
    ['a long command', JSON.stringify({ action: { args: { command: '['.repeat(1_000_000) + '"\\' } } })],
  ])('ignores brackets inside strings: %s', (_name, text) => {
    expect(JSON.parse(text)).toBeDefined();
    expect(depthOverflowAt(text, 100)).toBe(-1);
  });

  it('agrees with a character-by-character walk on random JSON-ish text', () => {
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const slow = (text: string, max: number) => {
      let depth = 0;
      let inString = false;
      for (let i = 0; i < text.length; i++) {
        const c = text[i];
        if (inString) {
          if (c === '\\') i++;
          else if (c === '"') inString = false;
        } else if (c === '"') inString = true;
        else if (c === '[' || c === '{') {
          if (++depth > max) return i;
        } else if (c === ']' || c === '}') depth--;
      }
      return -1;
    };
    for (let n = 0; n < 2000; n++) {
      const text = Array.from({ length: rand(60) }, () => '[]{}"\\ax'[rand(8)]).join('');
      expect(depthOverflowAt(text, 3), text).toBe(slow(text, 3));
    }
  });

  it('parseJson refuses deep nesting before parsing, and bad JSON with a 400', () => {
    expect(() => parseJson(nested(101), 'body')).toThrow(/more than 100 levels deep/);
    expect(() => parseJson('{"a":', 'body')).toThrow(/not valid JSON/);
  });
});
