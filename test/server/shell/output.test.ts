// Bounded output: head and tail kept, the whole spilled to a file; a file that cannot be written
// (full disk, the spill budget used up) costs the file, never the observation.
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OutputCapture } from '../../../server/shell/output.js';
import { SpillFiles, createPrivateFile } from '../../../server/shell/spill.js';

const dir = mkdtempSync(join(tmpdir(), 'rc-out-'));
const target = (files: SpillFiles, where = dir) => ({ files, create: () => files.create(where) });
const lines = Array.from({ length: 1000 }, (_, i) => `line ${i}\n`);
const all = lines.join('');

describe('OutputCapture', () => {
  it('returns short output whole', () => {
    const c = new OutputCapture(100, target(new SpillFiles(1 << 20)));
    c.push('abc');
    c.push('def');
    expect(c.take()).toEqual({ text: 'abcdef', truncated: false, totalChars: 6 });
    expect(c.take()).toEqual({ text: '', truncated: false, totalChars: 0 });
  });

  it('keeps half head and half tail and writes everything to the file', () => {
    const c = new OutputCapture(100, target(new SpillFiles(1 << 20)));
    for (const line of lines) c.push(line);
    const out = c.take();
    expect(out.truncated).toBe(true);
    expect(out.totalChars).toBe(all.length);
    expect(out.text.startsWith(all.slice(0, 50))).toBe(true);
    expect(out.text.endsWith(all.slice(-50))).toBe(true);
    expect(out.text).toContain(`is in ${out.fullOutputPath}`);
    expect(readFileSync(out.fullOutputPath!, 'utf8')).toBe(all);
    c.push('next');
    expect(c.take().text).toBe('next');
  });

  it('keeps head, note and tail within the limit, so that a client cutting at it keeps the note', () => {
    const c = new OutputCapture(2000, target(new SpillFiles(1 << 20)));
    for (const line of lines) c.push(line);
    const out = c.take();
    expect(out.text.length).toBeLessThanOrEqual(2000);
    expect(out.text.length).toBeGreaterThan(1990);
    expect(out.text).toContain(`is in ${out.fullOutputPath}`);
    const omitted = Number(/(\d+) characters omitted/.exec(out.text)![1]);
    const note = /\n\[\.\.\. Observation truncated[^\]]*\]\n/.exec(out.text)![0];
    expect(omitted).toBe(all.length - (out.text.length - note.length));
    expect(all.startsWith(out.text.slice(0, out.text.indexOf(note)))).toBe(true);
    expect(all.endsWith(out.text.slice(out.text.indexOf(note) + note.length))).toBe(true);
  });

  it('takes plain ASCII as bytes with the same result as text', () => {
    const asText = new OutputCapture(2000, target(new SpillFiles(1 << 20)));
    const asBytes = new OutputCapture(2000, target(new SpillFiles(1 << 20)));
    for (const line of lines) {
      asText.push(line);
      asBytes.pushAscii(Buffer.from(line, 'latin1'));
    }
    const a = asText.take();
    const b = asBytes.take();
    expect(b.text.replace(b.fullOutputPath!, 'P')).toBe(a.text.replace(a.fullOutputPath!, 'P'));
    expect(b.totalChars).toBe(all.length);
    expect(readFileSync(b.fullOutputPath!, 'utf8')).toBe(all);
  });

  it('keeps head and tail and says so when the file cannot be created', () => {
    const c = new OutputCapture(100, target(new SpillFiles(1 << 20), join(dir, 'missing')));
    for (const line of lines) c.push(line);
    const out = c.take();
    expect(out.text.startsWith(all.slice(0, 50))).toBe(true);
    expect(out.text.endsWith(all.slice(-50))).toBe(true);
    expect(out.text).toContain('The full output could not be saved: ENOENT');
    expect(out.fullOutputPath).toBeUndefined();
  });

  it('cuts a file at the budget, deleting older finished files first', () => {
    const files = new SpillFiles(all.length + 100);
    const first = new OutputCapture(100, target(files));
    for (const line of lines) first.push(line);
    const a = first.take();
    expect(existsSync(a.fullOutputPath!)).toBe(true);
    const second = new OutputCapture(100, target(files));
    for (const line of lines) second.push(line);
    for (const line of lines) second.push(line);
    const b = second.take();
    expect(existsSync(a.fullOutputPath!)).toBe(false); // the older one made room
    expect(b.text).toContain(`Only its first`);
    expect(b.text).toContain('the disk budget for saved outputs is used up');
    expect(b.text.endsWith(all.slice(-50))).toBe(true);
    expect(files.bytes).toBeLessThanOrEqual(all.length + 100);
    files.remove(b.fullOutputPath!);
    expect(existsSync(b.fullOutputPath!)).toBe(false);
    expect(files.bytes).toBe(0);
  });

  it('never creates through a link or over a name planted first', () => {
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'precious');
    symlinkSync(victim, join(dir, 'planted'));
    expect(() => createPrivateFile(join(dir, 'planted'), 0o600)).toThrow(/EEXIST/);
    expect(readFileSync(victim, 'utf8')).toBe('precious');
  });
});
