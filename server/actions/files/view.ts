// What the str_replace_editor shows: numbered lines like `cat -n`, and a directory two levels deep.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** The lines of a text, without the empty one after a final line break. */
export function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (text.endsWith('\n')) lines.pop();
  return lines;
}

/** Lines numbered from `firstLine` (1-based): number right-aligned in 6 columns, a tab, the line. */
export function numbered(lines: string[], firstLine: number): string {
  return lines.map((line, i) => `${String(i + firstLine).padStart(6)}\t${line}`).join('\n');
}

/** Non-hidden files and directories up to 2 levels below `dir`, directories with a trailing slash. */
export async function listTwoLevels(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (current: string, depth: number): Promise<void> => {
    const entries = await readdir(current, { withFileTypes: true }).catch(() => []);
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const path = join(current, entry.name);
      out.push(entry.isDirectory() ? `${path}/` : path);
      if (entry.isDirectory() && depth < 2) await walk(path, depth + 1);
    }
  };
  await walk(dir, 1);
  return out;
}
