// The edit action with the str_replace_editor contract agents are trained on: view, create,
// str_replace, insert and undo_edit, answering what OpenHands' own editor (openhands-aci OHEditor,
// which OpenHands' server ran) answers, sentence for sentence; test/server/openhands compares the two.
// Text is read as Python reads it for the editor (CRLF and CR become '\n', so an edited CRLF file
// is written with LF, as the editor writes it). On purpose, and said where it happens: create
// makes missing parents, undoing a create removes the file, insert after a last line without a
// line break starts a new line, and a file that is not UTF-8 is edited as Latin-1, its bytes kept
// (the editor guesses an encoding).
import type { Stats } from 'node:fs';
import { readFile, stat, unlink } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { EDIT_COMMANDS, type EditArgs, type EditObservation } from '@runtime-client/protocol';
import type { FileAccess } from './access.js';
import { writeWhole } from './atomic.js';
import { sniff } from './content.js';
import { editDiff } from './diff.js';
import { FileError, type FileErrorId, fromFsError, mustHaveContent } from './errors.js';
import type { EditHistory } from './history.js';
import { catN, linesWithBreaks, listing } from './view.js';
import { existingFile } from './write.js';

/** Lines of context shown around an edit (SNIPPET_CONTEXT_WINDOW). */
const SNIPPET_LINES = 4;
/** The largest file the editor reads or edits (OHEditor.MAX_FILE_SIZE_MB), in bytes. */
export const MAX_EDIT_BYTES = 10 * 1024 * 1024;

type Command = (typeof EDIT_COMMANDS)[number];
/** The args once checkArgs took them: a known command, insert_line a number. */
type EditorArgs = Omit<EditArgs, 'command' | 'insert_line'> & { command: Command; insert_line?: number | null };

export async function editAction(access: FileAccess, history: EditHistory, path: string, given: EditArgs): Promise<EditObservation> {
  const args = checkArgs(given);
  const source = implSource(args.impl_source);
  await checkPath(args.command, path, args.path, source);
  switch (args.command) {
    case 'view':
      return { observation: 'edit', content: await editorView(access, path, args.view_range ?? undefined), extras: viewExtras(path, source), success: true };
    case 'create': {
      if (args.file_text == null) throw missing('file_text', 'create');
      await existingFile(access, path);
      // On purpose: missing parent directories are made (the editor fails to write there).
      await writeWhole(access, path, args.file_text, undefined);
      history.created(path);
      return edited(path, false, null, args.file_text, `File created successfully at: ${path}`, source);
    }
    case 'str_replace':
      return strReplace(access, history, path, args, source);
    case 'insert':
      return insert(access, history, path, args, source);
    case 'undo_edit':
      return undo(access, history, path, source);
  }
}

/**
 * What the editor's `view` shows of `path`: a file's lines numbered (all, or `range` [first, last]
 * 1-based, last -1 or past the end: to the end), or a directory's listing. Also the answer of
 * `read` with impl_source "oh_aci".
 */
export async function editorView(access: FileAccess, path: string, range?: number[]): Promise<string> {
  const info = await access.check(path, 'r');
  if (info.isDirectory()) {
    if (range) throw invalid('ERROR_INVALID_ARGUMENT', 'view_range', pyList(range), 'The `view_range` parameter is not allowed when `path` points to a directory.');
    return listing(path);
  }
  const { text } = await loadText(access, path, 'r', info);
  if (!range) return catN(text, path);
  if (range.length !== 2) throw invalid('ERROR_INVALID_ARGUMENT', 'view_range', pyList(range), 'It should be a list of two integers.');
  const lines = linesWithBreaks(text);
  const n = lines.length;
  const [first, last] = range as [number, number];
  if (first < 1 || first > n) {
    throw invalid('ERROR_INVALID_ARGUMENT', 'view_range', pyList(range), `Its first element \`${first}\` should be within the range of lines of the file: [1, ${n}].`);
  }
  let end = last;
  let note = '';
  if (end === -1) end = n;
  else if (end > n) {
    note = `NOTE: We only show up to ${n} since there're only ${n} lines in this file.\n`;
    end = n;
  }
  if (end < first) {
    throw invalid('ERROR_INVALID_ARGUMENT', 'view_range', pyList(range), `Its second element \`${end}\` should be greater than or equal to the first element \`${first}\`.`);
  }
  const shown = lines
    .slice(first - 1, end)
    .join('')
    .split(/\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/);
  if (shown.at(-1) === '') shown.pop(); // Python's splitlines: no empty piece after a final break
  return note + catN(shown.join('\n'), path, first);
}

/**
 * The editor's checks of a path before any command: absolute (for OpenHands, whose editor
 * refuses relative paths; our own clients' relative paths resolve against the session cwd),
 * missing or present as the command needs, a directory only for `view`.
 */
export async function checkPath(command: Command, path: string, asGiven: string, source: string): Promise<void> {
  const exists = await stat(path).then(
    (info) => info,
    (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT' || e.code === 'ENOTDIR' || e.code === 'ELOOP') return undefined;
      throw fromFsError(e, path);
    },
  );
  if (source === 'oh_aci' && !isAbsolute(asGiven)) {
    const hint = `The path should be an absolute path, starting with \`/\`.${exists ? ` Maybe you meant ${path}?` : ''}`;
    throw invalid('ERROR_INVALID_ARGUMENT', 'path', asGiven, hint);
  }
  if (command === 'create' && exists) {
    throw invalid('ERROR_FILE_EXISTS', 'path', path, `File already exists at: ${path}. Cannot overwrite files using command \`create\`.`);
  }
  if (command !== 'create' && !exists) {
    throw invalid('ERROR_FILE_NOT_FOUND', 'path', path, `The path ${path} does not exist. Please provide a valid path.`);
  }
  if (command !== 'view' && exists?.isDirectory()) {
    throw invalid('ERROR_IS_DIRECTORY', 'path', path, `The path ${path} is a directory and only the \`view\` command can be used on directories.`);
  }
}

async function strReplace(access: FileAccess, history: EditHistory, path: string, args: EditorArgs, source: string): Promise<EditObservation> {
  if (args.old_str == null) throw missing('old_str', 'str_replace');
  if (args.new_str === args.old_str) {
    throw invalid('ERROR_INVALID_ARGUMENT', 'new_str', args.new_str, 'No replacement was performed. `new_str` and `old_str` must be different.');
  }
  const loaded = await loadText(access, path, 'w');
  const { text } = loaded;
  let oldStr = args.old_str;
  let newStr = args.new_str ?? '';
  let at = occurrences(text, oldStr);
  if (at.length === 0) {
    // As the editor does: old_str may have stray white space at its ends; both strings lose it.
    oldStr = oldStr.trim();
    newStr = newStr.trim();
    at = occurrences(text, oldStr);
    if (at.length === 0) throw new FileError('ERROR_NO_MATCH', `No replacement was performed, old_str \`${oldStr}\` did not appear verbatim in ${path}.`);
  }
  if (at.length > 1) {
    const lines = [...new Set(at.map((i) => lineOf(text, i)))];
    throw new FileError('ERROR_MULTIPLE_MATCHES', `No replacement was performed. Multiple occurrences of old_str \`${oldStr}\` in lines [${lines.join(', ')}]. Please ensure it is unique.`);
  }
  const updated = text.slice(0, at[0]) + newStr + text.slice(at[0]! + oldStr.length);
  await store(access, path, updated, loaded);
  history.push(path, text);
  const line = lineOf(text, at[0]!);
  const from = Math.max(0, line - SNIPPET_LINES);
  const to = line + SNIPPET_LINES + count(newStr, '\n');
  const snippet = linesWithBreaks(updated).slice(from, to).join('');
  const shown = `The file ${path} has been edited. ${catN(snippet, `a snippet of ${path}`, from + 1)}Review the changes and make sure they are as expected. Edit the file again if necessary.`;
  return edited(path, true, text, updated, shown, source);
}

async function insert(access: FileAccess, history: EditHistory, path: string, args: EditorArgs, source: string): Promise<EditObservation> {
  if (args.insert_line == null) throw missing('insert_line', 'insert');
  if (args.new_str == null) throw missing('new_str', 'insert');
  const loaded = await loadText(access, path, 'w');
  const { text } = loaded;
  const lines = linesWithBreaks(text);
  const at = args.insert_line;
  if (at < 0 || at > lines.length) {
    throw invalid('ERROR_INVALID_ARGUMENT', 'insert_line', String(at), `It should be within the range of allowed values: [0, ${lines.length}]`);
  }
  // As the editor does: every piece of new_str between line breaks becomes a line.
  const added = args.new_str.split('\n').map((l) => `${l}\n`);
  const before = lines.slice(0, at);
  // On purpose: after a last line without a break the new lines start on a line of their own.
  if (before.length > 0 && !before.at(-1)!.endsWith('\n')) before[before.length - 1] += '\n';
  const all = [...before, ...added, ...lines.slice(at)];
  const updated = all.join('');
  await store(access, path, updated, loaded);
  history.push(path, text);
  const from = Math.max(0, at - SNIPPET_LINES);
  const to = Math.min(lines.length + added.length, at + SNIPPET_LINES + added.length);
  const snippet = all.slice(from, to).join('');
  const shown = `The file ${path} has been edited. ${catN(snippet, 'a snippet of the edited file', Math.max(1, at - SNIPPET_LINES + 1))}Review the changes and make sure they are as expected (correct indentation, no duplicate lines, etc). Edit the file again if necessary.`;
  return edited(path, true, text, updated, shown, source);
}

/** Restores the version before the last edit; undoing a `create` removes the file (on purpose: the editor keeps it). */
async function undo(access: FileAccess, history: EditHistory, path: string, source: string): Promise<EditObservation> {
  const loaded = await loadText(access, path, 'w');
  const { text } = loaded;
  const previous = history.peek(path);
  if (previous === undefined) throw new FileError('ERROR_NO_HISTORY', `No edit history found for ${path}.`);
  if (previous === null) {
    await access.checkRemove(path);
    await unlink(path).catch((e: unknown) => {
      throw fromFsError(e, path);
    });
    history.pop(path);
    return edited(path, true, text, null, `Last edit to ${path} undone successfully: it was created by \`create\`, so the file has been removed.`, source);
  }
  await store(access, path, previous, loaded);
  history.pop(path);
  return edited(path, true, text, previous, `Last edit to ${path} undone successfully. ${catN(previous, path)}`, source);
}

/** How a file's bytes became its text: UTF-8, or Latin-1 for bytes that are not UTF-8 (each byte one character). */
type Encoding = 'utf8' | 'latin1';

interface Loaded {
  info: Stats;
  /** With line breaks made '\n' (CRLF and lone CR too), as Python's text files read them for the editor. */
  text: string;
  encoding: Encoding;
}

/**
 * A text file the session user may read (`'r'`) or write (`'w'`), whole, as the editor validates
 * and reads it. A file that is not UTF-8 is read as Latin-1 and written back so, its bytes kept
 * (the editor guesses the encoding; a Latin-1 reading never garbles the bytes an edit leaves alone).
 */
async function loadText(access: FileAccess, path: string, want: 'r' | 'w', known?: Stats): Promise<Loaded> {
  const info = known ?? (await access.check(path, want));
  mustHaveContent(info, path);
  if (info.size > MAX_EDIT_BYTES) {
    const size = (info.size / 1024 / 1024).toFixed(1);
    throw new FileError('ERROR_FILE_TOO_LARGE', `File validation failed for ${path}: File is too large (${size}MB). Maximum allowed size is ${MAX_EDIT_BYTES / 1024 / 1024}MB.`);
  }
  try {
    if ((await sniff(path)).kind !== 'text') {
      throw new FileError('ERROR_BINARY_FILE', `File validation failed for ${path}: File appears to be binary and this file type cannot be read or edited by this tool.`);
    }
    const bytes = await readFile(path);
    let encoding: Encoding = 'utf8';
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      encoding = 'latin1';
      text = bytes.toString('latin1');
    }
    return { info, text: text.replace(/\r\n?/g, '\n'), encoding };
  } catch (e) {
    throw fromFsError(e, path);
  }
}

/** Writes an edited text back in the encoding it was read in. */
async function store(access: FileAccess, path: string, text: string, loaded: Loaded): Promise<void> {
  if (loaded.encoding === 'latin1') {
    const beyond = [...text].find((c) => c.codePointAt(0)! > 0xff);
    if (beyond) {
      throw new FileError(
        'ERROR_INVALID_ARGUMENT',
        `The file ${path} is not UTF-8 and was read as Latin-1, which cannot hold the character ${JSON.stringify(beyond)} of the new text; nothing was changed. Convert the file to UTF-8 first (for example with iconv) or leave that character out.`,
      );
    }
    return writeWhole(access, path, Buffer.from(text, 'latin1'), loaded.info);
  }
  return writeWhole(access, path, text, loaded.info);
}

/** Where `needle` occurs in `text`, without overlaps (as re.finditer); '' occurs at every position. */
function occurrences(text: string, needle: string): number[] {
  const at: number[] = [];
  if (needle === '') {
    for (let i = 0; i <= text.length; i++) at.push(i);
    return at;
  }
  for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + needle.length)) at.push(i);
  return at;
}

/** 1-based line number of character offset `index`. */
function lineOf(text: string, index: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < index; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

function count(text: string, char: string): number {
  return text.split(char).length - 1;
}

/** A list as Python prints it: [1, 2]. */
function pyList(values: number[]): string {
  return `[${values.join(', ')}]`;
}

/** The editor's EditorToolParameterInvalidError sentence. */
function invalid(errorId: FileErrorId, name: string, value: string, hint: string): FileError {
  return new FileError(errorId, `Invalid \`${name}\` parameter: ${value}. ${hint}`);
}

/**
 * What the protocol lets through for OpenHands' sake and the editor refuses with its own sentence:
 * an unknown command; an insert_line given as text (a number in text is taken, as OpenHands'
 * server did).
 */
function checkArgs(args: EditArgs): EditorArgs {
  const command = args.command;
  if (!(EDIT_COMMANDS as readonly string[]).includes(command)) {
    throw new FileError('ERROR_INVALID_ARGUMENT', `Unrecognized command ${command}. The allowed commands for the oh_editor tool are: ${EDIT_COMMANDS.join(', ')}`);
  }
  let line = args.insert_line;
  if (typeof line === 'string') {
    if (!/^\s*[-+]?\d+\s*$/.test(line)) throw new FileError('ERROR_INVALID_ARGUMENT', `Invalid insert_line value: '${line}'. Expected an integer.`);
    line = Number(line);
  }
  return { ...args, command: command as Command, insert_line: line };
}

function missing(name: string, command: string): FileError {
  return new FileError('ERROR_INVALID_ARGUMENT', `Parameter \`${name}\` is required for command: ${command}.`);
}

/** OpenHands sends impl_source "oh_aci" for its editor and gets it back; anything else is "default". */
export function implSource(value: unknown): string {
  return value === 'oh_aci' ? 'oh_aci' : 'default';
}

function viewExtras(path: string, source: string): EditObservation['extras'] {
  return { path, prev_exist: true, old_content: null, new_content: null, diff: '', impl_source: source };
}

/** The observation of a change, with the diff OpenHands' server would have sent. */
async function edited(path: string, prevExist: boolean, oldContent: string | null, newContent: string | null, content: string, source: string): Promise<EditObservation> {
  const diff = await editDiff(oldContent ?? '', newContent ?? '', path);
  return {
    observation: 'edit',
    content,
    extras: { path, prev_exist: prevExist, old_content: oldContent, new_content: newContent, diff, impl_source: source },
    success: true,
  };
}
