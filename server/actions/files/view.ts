// What the str_replace_editor shows, character for character as OpenHands' editor (openhands-aci
// OHEditor) prints it: numbered lines like `cat -n`, and a directory two levels deep.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** How many characters of a file or a listing the editor shows before it clips (MAX_RESPONSE_LEN_CHAR). */
export const MAX_SHOWN_CHARS = 16_000;
const FILE_CLIPPED =
  '<response clipped><NOTE>Due to the max output limit, only part of this file has been shown to you. You should retry this tool after you have searched inside the file with `grep -n` in order to find the line numbers of what you are looking for.</NOTE>';
const DIRECTORY_CLIPPED =
  '<response clipped><NOTE>Due to the max output limit, only part of this directory has been shown to you. You should use `ls -la` instead to view large directories incrementally.</NOTE>';

/** The lines of a text, without the empty one after a final line break. */
export function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (text.endsWith('\n')) lines.pop();
  return lines;
}

/** The lines of a text, each with its line break (the last one may have none). */
export function linesWithBreaks(text: string): string[] {
  return text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
}

/** Lines numbered from `firstLine` (1-based): number right-aligned in 6 columns, a tab, the line. */
export function numbered(lines: string[], firstLine: number): string {
  return lines.map((line, i) => `${String(i + firstLine).padStart(6)}\t${line}`).join('\n');
}

/** `text` cut to the editor's limit with its note (the limit counts code points, as Python does). */
function clip(text: string, note: string): string {
  if (text.length <= MAX_SHOWN_CHARS) return text;
  const points = Array.from(text);
  return points.length <= MAX_SHOWN_CHARS ? text : points.slice(0, MAX_SHOWN_CHARS).join('') + note;
}

/**
 * The editor's `cat -n` block for `snippet` (OHEditor._make_output): every piece between line
 * breaks is numbered, so a snippet that ends with a break shows one more, empty, line.
 */
export function catN(snippet: string, description: string, firstLine = 1): string {
  return `Here's the result of running \`cat -n\` on ${description}:\n${numbered(clip(snippet, FILE_CLIPPED).split('\n'), firstLine)}\n`;
}

/**
 * The editor's listing of `dir` (what `find -L dir -maxdepth 2` minus hidden entries, sorted,
 * prints): the directory itself, then every entry up to 2 levels below in byte order,
 * directories (symbolic links to one included) with a trailing slash; then how many hidden
 * entries the top level holds.
 */
export async function listing(dir: string): Promise<string> {
  const found: { path: string; isDir: boolean }[] = [{ path: dir, isDir: true }];
  let hidden = 0;
  const walk = async (current: string, depth: number): Promise<void> => {
    const entries = await readdir(current, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (entry.name.startsWith('.')) {
        if (depth === 1) hidden++;
        continue;
      }
      const path = join(current, entry.name);
      const isDir = entry.isDirectory() || (entry.isSymbolicLink() && (await stat(path).then((s) => s.isDirectory(), () => false)));
      found.push({ path, isDir });
      if (isDir && depth < 2) await walk(path, depth + 1);
    }
  };
  await walk(dir, 1);
  found.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const dirs = new Set(found.filter((f) => f.isDir).map((f) => f.path));
  const raw = clip(found.map((f) => f.path).join('\n'), DIRECTORY_CLIPPED);
  const shown = raw.split('\n').map((p) => (dirs.has(p) ? `${p}/` : p));
  let text = `Here's the files and directories up to 2 levels deep in ${dir}, excluding hidden items:\n${shown.join('\n')}`;
  if (hidden > 0) text += `\n\n${hidden} hidden files/directories in this directory are excluded. You can use 'ls -la ${dir}' to see them.`;
  return text;
}
