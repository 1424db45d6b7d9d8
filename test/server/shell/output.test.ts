// Bounded output: head and tail kept, the whole spilled to a file.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OutputCapture } from '../../../server/shell/output.js';

const dir = mkdtempSync(join(tmpdir(), 'rc-out-'));

describe('OutputCapture', () => {
  it('returns short output whole', () => {
    const c = new OutputCapture(100, () => join(dir, 'never'));
    c.push('abc');
    c.push('def');
    expect(c.take()).toEqual({ text: 'abcdef', truncated: false, totalChars: 6 });
    expect(c.take()).toEqual({ text: '', truncated: false, totalChars: 0 });
  });

  it('keeps half head and half tail and writes everything to the file', () => {
    let n = 0;
    const c = new OutputCapture(100, () => join(dir, `spill-${++n}`));
    const lines = Array.from({ length: 1000 }, (_, i) => `line ${i}\n`);
    for (const line of lines) c.push(line);
    const out = c.take();
    expect(out.truncated).toBe(true);
    expect(out.totalChars).toBe(lines.join('').length);
    expect(out.text.startsWith(lines.join('').slice(0, 50))).toBe(true);
    expect(out.text.endsWith(lines.join('').slice(-50))).toBe(true);
    expect(out.text).toContain(`is in ${out.fullOutputPath}`);
    expect(readFileSync(out.fullOutputPath!, 'utf8')).toBe(lines.join(''));
    c.push('next');
    expect(c.take().text).toBe('next');
  });
});
