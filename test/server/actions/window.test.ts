// The byte ring holding an action's recent raw output for late subscribers.
import { describe, expect, it } from 'vitest';
import { OutputWindow } from '../../../server/actions/window.js';

describe('OutputWindow', () => {
  it('returns every retained chunk exactly, across growth and wrap-around', () => {
    const capacity = 300_000;
    const w = new OutputWindow(capacity);
    const chunks: string[] = [];
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 2000; i++) {
      const len = Math.floor(rand() * 3000);
      const chunk = `${i}:` + Array.from('aé→🚀b'.repeat(Math.ceil(len / 5))).slice(0, len).join('');
      chunks.push(chunk);
      w.push(chunk);
      expect(w.size).toBeLessThanOrEqual(capacity);
      if (i % 97 === 0) {
        for (let seq = w.firstSeq; seq < w.nextSeq; seq++) expect(w.get(seq)).toBe(chunks[seq]);
      }
    }
    expect(w.nextSeq).toBe(2000);
    expect(w.firstSeq).toBeGreaterThan(0);
    for (let seq = w.firstSeq; seq < w.nextSeq; seq++) expect(w.get(seq)).toBe(chunks[seq]);
  });

  it('keeps numbering after clear', () => {
    const w = new OutputWindow(1024);
    w.push('a');
    w.push('b');
    w.clear();
    expect([w.firstSeq, w.nextSeq, w.size]).toEqual([2, 2, 0]);
    w.push('c');
    expect(w.get(2)).toBe('c');
  });

  it('takes chunks as bytes only, and recycles a full ring once cleared without mixing old bytes in', () => {
    const first = new OutputWindow(256 * 1024);
    for (let i = 0; i < 40; i++) first.push(null, Buffer.from(String(i % 10).repeat(10_000), 'latin1'));
    expect(first.get(first.nextSeq - 1)).toBe('9'.repeat(10_000));
    first.clear(); // its full-size ring goes to the spares
    const second = new OutputWindow(256 * 1024);
    second.push('héllo');
    second.push(null, Buffer.from('x'.repeat(100_000), 'latin1')); // grows: takes the spare
    second.push('wörld');
    expect(second.get(0)).toBe('héllo');
    expect(second.get(1)).toBe('x'.repeat(100_000));
    expect(second.get(2)).toBe('wörld');
  });
});
