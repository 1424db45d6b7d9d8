// The mark protocol: scanning marks out of a chunked stream, and quoting commands for one line.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { MarkScanner, inlineCommandLine, type Mark } from '../../../server/shell/marks.js';

const NONCE = 'abc123';
const mark = (source: 'P' | 'Q' | 'S', code: number, cwd: string, py = '') => `\x1b]6973;${NONCE};${source};${code};${py}\x1f${cwd}\x07`;

function scan(chunks: string[], nonce = NONCE) {
  const out: string[] = [];
  const marks: Mark[] = [];
  const scanner = new MarkScanner(nonce, (t) => out.push(t), (m) => marks.push(m));
  chunks.forEach((c) => scanner.push(c));
  scanner.flush();
  return { text: out.join(''), marks };
}

describe('MarkScanner', () => {
  it('separates output from a mark', () => {
    const { text, marks } = scan([`hello\r\n${mark('P', 3, '/tmp', '/usr/bin/python')}`]);
    expect(text).toBe('hello\r\n');
    expect(marks).toEqual([{ source: 'P', exitCode: 3, cwd: '/tmp', pythonPath: '/usr/bin/python' }]);
  });

  it('finds a mark split at every possible point', () => {
    const whole = `out${mark('P', 0, '/a;b c')}${mark('S', 0, '/a;b c')}more`;
    for (let i = 1; i < whole.length; i++) {
      const { text, marks } = scan([whole.slice(0, i), whole.slice(i)]);
      expect(text).toBe('outmore');
      expect(marks.map((m) => m.source)).toEqual(['P', 'S']);
      expect(marks[0]!.cwd).toBe('/a;b c');
    }
  });

  it('treats a mark with the wrong nonce as output', () => {
    const fake = mark('P', 0, '/').replace(NONCE, 'guess');
    const { text, marks } = scan([`x${fake}y`]);
    expect(marks).toEqual([]);
    expect(text).toBe(`x${fake}y`);
  });

  it('does not hold an unterminated would-be mark forever', () => {
    const junk = '\x1b]6973;' + 'z'.repeat(10000);
    const { text, marks } = scan([junk, 'tail']);
    expect(marks).toEqual([]);
    expect(text).toBe(junk + 'tail');
  });
});

describe('inlineCommandLine', () => {
  it.each([
    ['plain', 'echo hi'],
    ['quotes and backslashes', `echo 'single' "double" back\\slash \\$HOME`],
    ['newlines and tabs', 'printf "%s\\n" a\tb\necho two'],
    ['control characters', 'printf "\x01\x1b[0m|"'],
    ['unicode', 'echo héllo → 世界 🚀'],
  ])('keeps %s intact as one printable line', (_name, command) => {
    const line = inlineCommandLine(command);
    expect(line).not.toMatch(/[\x00-\x1f\x7f]/);
    const direct = execFileSync('bash', ['-c', command]);
    const viaLine = execFileSync('bash', ['-c', line]);
    expect(viaLine).toEqual(direct);
  });
});
