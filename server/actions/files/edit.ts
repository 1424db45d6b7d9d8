// The edit action with the str_replace_editor contract agents are trained on: view, create,
// str_replace, insert and undo_edit, with that tool's messages.
import type { Stats } from 'node:fs';
import { readFile, stat, unlink } from 'node:fs/promises';
import type { EditArgs, EditObservation } from '@runtime-client/protocol';
import type { FileAccess } from './access.js';
import { writeWhole } from './atomic.js';
import { MAX_CONTENT_BYTES, sniff } from './content.js';
import { FileError, fromFsError, mustHaveContent } from './errors.js';
import type { EditHistory } from './history.js';
import { listTwoLevels, numbered, splitLines } from './view.js';
import { existingFile } from './write.js';

/** Lines of context shown around an edit. */
const SNIPPET_LINES = 4;

export async function editAction(access: FileAccess, history: EditHistory, path: string, args: EditArgs): Promise<EditObservation> {
  switch (args.command) {
    case 'view':
      return view(access, path, args.view_range ?? undefined);
    case 'create': {
      if (args.file_text == null) throw missing('file_text', 'create');
      const exists = await stat(path).then(
        () => true,
        () => false,
      );
      if (exists) throw new FileError('ERROR_FILE_EXISTS', `File already exists at: ${path}. Cannot overwrite files using command \`create\`.`);
      await existingFile(access, path);
      await writeWhole(access, path, args.file_text, undefined);
      history.created(path);
      return edited(path, false, null, args.file_text, `File created successfully at: ${path}`);
    }
    case 'str_replace':
      return strReplace(access, history, path, args);
    case 'insert':
      return insert(access, history, path, args);
    case 'undo_edit':
      return undo(access, history, path);
  }
}

async function view(access: FileAccess, path: string, range: number[] | undefined): Promise<EditObservation> {
  const info = await access.check(path, 'r');
  if (info.isDirectory()) {
    if (range) throw new FileError('ERROR_INVALID_ARGUMENT', 'The `view_range` parameter is not allowed when `path` points to a directory.');
    const entries = await listTwoLevels(path);
    const content = `Here's the files and directories up to 2 levels deep in ${path}, excluding hidden items:\n${[`${path}/`.replace(/\/+$/, '/'), ...entries].join('\n')}\n`;
    return { observation: 'edit', content, extras: viewExtras(path), success: true };
  }
  const { text } = await loadText(access, path, 'r', info);
  const lines = splitLines(text);
  let first = 1;
  let shown = lines;
  if (range) {
    const [a, b] = range as [number, number];
    const n = lines.length;
    const shownRange = JSON.stringify(range).replace(/,/g, ', ');
    if (a < 1 || a > Math.max(n, 1)) {
      throw new FileError('ERROR_INVALID_ARGUMENT', `Invalid \`view_range\` parameter: ${shownRange}. Its first element \`${a}\` should be within the range of lines of the file: [1, ${n}].`);
    }
    if (b !== -1 && b > n) {
      throw new FileError('ERROR_INVALID_ARGUMENT', `Invalid \`view_range\` parameter: ${shownRange}. Its second element \`${b}\` should be smaller than the number of lines in the file: \`${n}\`.`);
    }
    if (b !== -1 && b < a) {
      throw new FileError('ERROR_INVALID_ARGUMENT', `Invalid \`view_range\` parameter: ${shownRange}. Its second element \`${b}\` should be larger or equal than its first \`${a}\`.`);
    }
    first = a;
    shown = lines.slice(a - 1, b === -1 ? undefined : b);
  }
  const content = `Here's the result of running \`cat -n\` on ${path}:\n${numbered(shown, first)}\n`;
  return { observation: 'edit', content, extras: viewExtras(path), success: true };
}

async function strReplace(access: FileAccess, history: EditHistory, path: string, args: EditArgs): Promise<EditObservation> {
  if (args.old_str == null) throw missing('old_str', 'str_replace');
  const oldStr = args.old_str;
  const newStr = args.new_str ?? '';
  const { info, text } = await loadText(access, path, 'w');
  if (oldStr === newStr) throw new FileError('ERROR_INVALID_ARGUMENT', 'No replacement was performed. `new_str` and `old_str` must be different.');
  const at: number[] = [];
  if (oldStr !== '') for (let i = text.indexOf(oldStr); i >= 0; i = text.indexOf(oldStr, i + 1)) at.push(i);
  if (at.length === 0) {
    throw new FileError('ERROR_NO_MATCH', `No replacement was performed, old_str \`${oldStr}\` did not appear verbatim in ${path}.`);
  }
  if (at.length > 1) {
    const lines = at.map((i) => lineOf(text, i));
    throw new FileError('ERROR_MULTIPLE_MATCHES', `No replacement was performed. Multiple occurrences of old_str \`${oldStr}\` in lines [${lines.join(', ')}]. Please ensure it is unique.`);
  }
  const updated = text.slice(0, at[0]) + newStr + text.slice(at[0]! + oldStr.length);
  await writeWhole(access, path, updated, info);
  history.push(path, text);
  const startLine = lineOf(text, at[0]!);
  const snippet = snippetAround(updated, startLine, newStr.split('\n').length);
  const shown = `The file ${path} has been edited. Here's the result of running \`cat -n\` on a snippet of ${path}:\n${snippet}\nReview the changes and make sure they are as expected. Edit the file again if necessary.`;
  return edited(path, true, text, updated, shown);
}

async function insert(access: FileAccess, history: EditHistory, path: string, args: EditArgs): Promise<EditObservation> {
  if (args.insert_line == null) throw missing('insert_line', 'insert');
  if (args.new_str == null) throw missing('new_str', 'insert');
  const { info, text } = await loadText(access, path, 'w');
  const lines = splitLines(text);
  const at = args.insert_line;
  if (at < 0 || at > lines.length) {
    throw new FileError('ERROR_INVALID_ARGUMENT', `Invalid \`insert_line\` parameter: ${at}. It should be within the range of lines of the file: [0, ${lines.length}]`);
  }
  const added = splitLines(args.new_str.endsWith('\n') ? args.new_str : `${args.new_str}\n`);
  const all = [...lines.slice(0, at), ...added, ...lines.slice(at)];
  const trailing = text === '' || text.endsWith('\n');
  const updated = all.join('\n') + (trailing && all.length > 0 ? '\n' : '');
  await writeWhole(access, path, updated, info);
  history.push(path, text);
  const snippet = snippetAround(updated, at + 1, added.length);
  const shown = `The file ${path} has been edited. Here's the result of running \`cat -n\` on a snippet of the edited file:\n${snippet}\nReview the changes and make sure they are as expected (correct indentation, no duplicate lines, etc). Edit the file again if necessary.`;
  return edited(path, true, text, updated, shown);
}

/** Restores the version before the last edit; undoing a `create` removes the file. */
async function undo(access: FileAccess, history: EditHistory, path: string): Promise<EditObservation> {
  // Asked before the file is read: once a create is undone the file is gone, and there is no history.
  if (history.peek(path) === undefined) throw new FileError('ERROR_NO_HISTORY', `No edit history found for ${path}.`);
  const { info, text } = await loadText(access, path, 'w');
  if (history.peek(path) === null) {
    await access.checkRemove(path);
    await unlink(path).catch((e: unknown) => {
      throw fromFsError(e, path);
    });
    history.pop(path);
    return edited(path, true, text, null, `Last edit to ${path} undone successfully: it was created by \`create\`, so the file has been removed.`);
  }
  const previous = history.pop(path)!;
  await writeWhole(access, path, previous, info);
  const shown = `Last edit to ${path} undone successfully. Here's the result of running \`cat -n\` on ${path}:\n${numbered(splitLines(previous), 1)}\n`;
  return edited(path, true, text, previous, shown);
}

/** A text file the session user may read (`'r'`) or write (`'w'`), whole. */
async function loadText(access: FileAccess, path: string, want: 'r' | 'w', known?: Stats): Promise<{ info: Stats; text: string }> {
  const info = known ?? (await access.check(path, want));
  if (info.isDirectory()) {
    throw new FileError('ERROR_IS_DIRECTORY', `The path ${path} is a directory and only the \`view\` command can be used on directories.`);
  }
  mustHaveContent(info, path);
  if (info.size > MAX_CONTENT_BYTES) {
    throw new FileError('ERROR_FILE_TOO_LARGE', `The file ${path} is larger than ${MAX_CONTENT_BYTES / 1024 / 1024} MiB; use read with start and end instead.`);
  }
  try {
    if ((await sniff(path)).kind !== 'text') {
      throw new FileError('ERROR_BINARY_FILE', `The file ${path} is binary (it holds NUL bytes) and cannot be edited as text.`);
    }
    return { info, text: await readFile(path, 'utf8') };
  } catch (e) {
    throw fromFsError(e, path);
  }
}

/** 1-based line number of character offset `index`. */
function lineOf(text: string, index: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < index; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

/** Lines around an edit that starts at 1-based `line` and spans `count` lines, numbered. */
function snippetAround(text: string, line: number, count: number): string {
  const lines = splitLines(text);
  const from = Math.max(1, line - SNIPPET_LINES);
  const to = Math.min(lines.length, line + count - 1 + SNIPPET_LINES);
  return numbered(lines.slice(from - 1, to), from);
}

function missing(name: string, command: string): FileError {
  return new FileError('ERROR_INVALID_ARGUMENT', `Parameter \`${name}\` is required for command: ${command}.`);
}

function viewExtras(path: string): EditObservation['extras'] {
  return { path, prev_exist: true, old_content: null, new_content: null, diff: '', impl_source: 'default' };
}

/** The observation of a change, with its unified diff (`diff` is loaded on the first edit, not at start). */
async function edited(path: string, prevExist: boolean, oldContent: string | null, newContent: string | null, content: string): Promise<EditObservation> {
  const { createPatch } = await import('diff');
  const diff = createPatch(path, oldContent ?? '', newContent ?? '');
  return {
    observation: 'edit',
    content,
    extras: { path, prev_exist: prevExist, old_content: oldContent, new_content: newContent, diff, impl_source: 'default' },
    success: true,
  };
}
