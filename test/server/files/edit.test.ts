// edit: the str_replace_editor commands with that tool's messages, a unified diff, undo and per-file locking.
import { existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../../helpers/server.js';
import { act, expectError } from './helpers.js';

let server: TestServer;
let dir: string;
const edit = (args: Record<string, unknown>) => act(server, 'edit', args);

beforeAll(async () => {
  server = await startServer();
  dir = mkdtempSync(join(tmpdir(), 'rc-edit-'));
});
afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('view', () => {
  it('numbers lines like cat -n, whole or in a range', async () => {
    const path = join(dir, 'view.txt');
    writeFileSync(path, 'alpha\nbeta\ngamma\ndelta\n');
    const whole = await edit({ command: 'view', path });
    expect(whole.observation).toBe('edit');
    // As OpenHands' editor prints it: the empty piece after the last line break is numbered too.
    expect(whole.content).toBe(`Here's the result of running \`cat -n\` on ${path}:\n     1\talpha\n     2\tbeta\n     3\tgamma\n     4\tdelta\n     5\t\n`);
    const part = await edit({ command: 'view', path, view_range: [2, 3] });
    expect(part.content).toBe(`Here's the result of running \`cat -n\` on ${path}:\n     2\tbeta\n     3\tgamma\n`);
    const toEnd = await edit({ command: 'view', path, view_range: [3, -1] });
    expect(toEnd.content).toContain('     3\tgamma\n     4\tdelta\n');
    expectError(
      await edit({ command: 'view', path, view_range: [0, 2] }),
      'ERROR_INVALID_ARGUMENT',
      'Invalid `view_range` parameter: [0, 2]. Its first element `0` should be within the range of lines of the file: [1, 4].',
    );
    const past = await edit({ command: 'view', path, view_range: [3, 9] });
    expect(past.content).toBe(`NOTE: We only show up to 4 since there're only 4 lines in this file.\nHere's the result of running \`cat -n\` on ${path}:\n     3\tgamma\n     4\tdelta\n`);
    expectError(
      await edit({ command: 'view', path, view_range: [3, 2] }),
      'ERROR_INVALID_ARGUMENT',
      'Invalid `view_range` parameter: [3, 2]. Its second element `2` should be greater than or equal to the first element `3`.',
    );
  });

  it('lists a directory two levels deep without hidden entries, and counts those at the top', async () => {
    const root = join(dir, 'tree');
    mkdirSync(join(root, 'a', 'b', 'c'), { recursive: true });
    mkdirSync(join(root, '.git'));
    writeFileSync(join(root, 'top.txt'), '');
    writeFileSync(join(root, '.hidden'), '');
    writeFileSync(join(root, 'a', 'b', 'c', 'deep.txt'), '');
    const obs = await edit({ command: 'view', path: root });
    expect(obs.content).toBe(
      `Here's the files and directories up to 2 levels deep in ${root}, excluding hidden items:\n${root}/\n${root}/a/\n${root}/a/b/\n${root}/top.txt\n\n` +
        `2 hidden files/directories in this directory are excluded. You can use 'ls -la ${root}' to see them.`,
    );
  });
});

describe('create', () => {
  it('creates a file with parents and refuses to overwrite', async () => {
    const path = join(dir, 'new', 'sub', 'made.py');
    const obs = await edit({ command: 'create', path, file_text: 'print(1)\n' });
    expect(obs).toMatchObject({ observation: 'edit', success: true, content: `File created successfully at: ${path}`, extras: { path, prev_exist: false, new_content: 'print(1)\n' } });
    expect(obs.extras.diff).toContain('+print(1)');
    expect(readFileSync(path, 'utf8')).toBe('print(1)\n');
    expect(statSync(path).mode & 0o777).toBe(0o664);
    expectError(
      await edit({ command: 'create', path, file_text: 'x' }),
      'ERROR_FILE_EXISTS',
      `Invalid \`path\` parameter: ${path}. File already exists at: ${path}. Cannot overwrite files using command \`create\`.`,
    );
    expectError(await edit({ command: 'create', path: join(dir, 'no-text.txt') }), 'ERROR_INVALID_ARGUMENT', 'Parameter `file_text` is required for command: create.');
  });
});

describe('str_replace', () => {
  it('replaces exactly one match and shows a snippet and a diff', async () => {
    const path = join(dir, 'replace.txt');
    writeFileSync(path, 'one\ntwo\nthree\n');
    const obs = await edit({ command: 'str_replace', path, old_str: 'two', new_str: 'TWO' });
    expect(obs.success).toBe(true);
    expect(obs.content).toContain(`The file ${path} has been edited. Here's the result of running \`cat -n\` on a snippet of ${path}:`);
    expect(obs.content).toContain('     2\tTWO');
    expect(obs.extras).toMatchObject({ path, prev_exist: true, old_content: 'one\ntwo\nthree\n', new_content: 'one\nTWO\nthree\n' });
    expect(obs.extras.diff).toContain('-two\n+TWO');
    expect(readFileSync(path, 'utf8')).toBe('one\nTWO\nthree\n');
  });

  it('says when old_str is missing or not unique', async () => {
    const path = join(dir, 'dupes.txt');
    writeFileSync(path, 'x\n\nfoo\nx\n\n\nfoo\n');
    expectError(await edit({ command: 'str_replace', path, old_str: 'bar', new_str: 'baz' }), 'ERROR_NO_MATCH', `No replacement was performed, old_str \`bar\` did not appear verbatim in ${path}.`);
    expectError(
      await edit({ command: 'str_replace', path, old_str: 'foo', new_str: 'baz' }),
      'ERROR_MULTIPLE_MATCHES',
      'No replacement was performed. Multiple occurrences of old_str `foo` in lines [3, 7]. Please ensure it is unique.',
    );
    expect(readFileSync(path, 'utf8')).toBe('x\n\nfoo\nx\n\n\nfoo\n');
  });

  it('keeps the mode of the file it rewrites', async () => {
    const path = join(dir, 'script.sh');
    writeFileSync(path, 'echo hi\n', { mode: 0o751 });
    await edit({ command: 'str_replace', path, old_str: 'hi', new_str: 'bye' });
    expect(statSync(path).mode & 0o777).toBe(0o751);
  });
});

describe('insert and undo_edit', () => {
  it('inserts after a line, at the top, and checks the range', async () => {
    const path = join(dir, 'insert.txt');
    writeFileSync(path, 'a\nb\n');
    const obs = await edit({ command: 'insert', path, insert_line: 1, new_str: 'between' });
    expect(obs.content).toContain("Here's the result of running `cat -n` on a snippet of the edited file:");
    expect(readFileSync(path, 'utf8')).toBe('a\nbetween\nb\n');
    await edit({ command: 'insert', path, insert_line: 0, new_str: 'top' });
    expect(readFileSync(path, 'utf8')).toBe('top\na\nbetween\nb\n');
    expectError(
      await edit({ command: 'insert', path, insert_line: 9, new_str: 'x' }),
      'ERROR_INVALID_ARGUMENT',
      'Invalid `insert_line` parameter: 9. It should be within the range of allowed values: [0, 4]',
    );
  });

  it('undoes edits one at a time and then says there is nothing to undo', async () => {
    const path = join(dir, 'undo.txt');
    writeFileSync(path, 'v1\n');
    await edit({ command: 'str_replace', path, old_str: 'v1', new_str: 'v2' });
    await edit({ command: 'str_replace', path, old_str: 'v2', new_str: 'v3' });
    const undone = await edit({ command: 'undo_edit', path });
    expect(undone.content).toContain(`Last edit to ${path} undone successfully.`);
    expect(readFileSync(path, 'utf8')).toBe('v2\n');
    await edit({ command: 'undo_edit', path });
    expect(readFileSync(path, 'utf8')).toBe('v1\n');
    expectError(await edit({ command: 'undo_edit', path }), 'ERROR_NO_HISTORY', `No edit history found for ${path}.`);
  });

  it('undoes a create by removing the file, then says the file is gone', async () => {
    const path = join(dir, 'created-then-undone.txt');
    await edit({ command: 'create', path, file_text: 'fresh\n' });
    await edit({ command: 'str_replace', path, old_str: 'fresh', new_str: 'edited' });
    await edit({ command: 'undo_edit', path });
    expect(readFileSync(path, 'utf8')).toBe('fresh\n');
    const undone = await edit({ command: 'undo_edit', path });
    expect(undone).toMatchObject({
      observation: 'edit',
      success: true,
      content: `Last edit to ${path} undone successfully: it was created by \`create\`, so the file has been removed.`,
      extras: { path, prev_exist: true, old_content: 'fresh\n', new_content: null },
    });
    expect(undone.extras.diff).toContain('-fresh');
    expect(existsSync(path)).toBe(false);
    expectError(
      await edit({ command: 'undo_edit', path }),
      'ERROR_FILE_NOT_FOUND',
      `Invalid \`path\` parameter: ${path}. The path ${path} does not exist. Please provide a valid path.`,
    );
  });

  it('never undoes past a version too large to keep: a create is not undone by removing a file edited since', async () => {
    const path = join(dir, 'grew-big.txt');
    await edit({ command: 'create', path, file_text: 'small\n' });
    const big = `${'x'.repeat(5 * 1024 * 1024)}\nsmall\n`;
    await act(server, 'write', { path, content: big });
    await edit({ command: 'str_replace', path, old_str: 'small', new_str: 'edited' });
    expectError(await edit({ command: 'undo_edit', path }), 'ERROR_NO_HISTORY', `No edit history found for ${path}.`);
    expect(statSync(path).size).toBe(big.length + 1);
  });

  it('rewrites a file with several hard links in place for str_replace, insert and undo_edit', async () => {
    const a = join(dir, 'hard-a.txt');
    const b = join(dir, 'hard-b.txt');
    writeFileSync(a, 'first\n');
    linkSync(a, b);
    const inode = statSync(a).ino;
    await edit({ command: 'str_replace', path: a, old_str: 'first', new_str: 'replaced' });
    expect(readFileSync(b, 'utf8')).toBe('replaced\n');
    await edit({ command: 'insert', path: a, insert_line: 1, new_str: 'inserted' });
    expect(readFileSync(b, 'utf8')).toBe('replaced\ninserted\n');
    await edit({ command: 'undo_edit', path: a });
    expect(readFileSync(b, 'utf8')).toBe('replaced\n');
    await edit({ command: 'undo_edit', path: a });
    expect(readFileSync(b, 'utf8')).toBe('first\n');
    expect(statSync(a).ino).toBe(inode);
    expect(statSync(b).ino).toBe(inode);
  });
});

describe('failures and concurrency', () => {
  it('answers missing files, directories and binary files with error observations', async () => {
    const missing = join(dir, 'missing.txt');
    expectError(
      await edit({ command: 'str_replace', path: missing, old_str: 'a', new_str: 'b' }),
      'ERROR_FILE_NOT_FOUND',
      `Invalid \`path\` parameter: ${missing}. The path ${missing} does not exist. Please provide a valid path.`,
    );
    expectError(
      await edit({ command: 'str_replace', path: dir, old_str: 'a', new_str: 'b' }),
      'ERROR_IS_DIRECTORY',
      `Invalid \`path\` parameter: ${dir}. The path ${dir} is a directory and only the \`view\` command can be used on directories.`,
    );
    writeFileSync(join(dir, 'bin'), Buffer.from([0, 1, 2]));
    expectError(await edit({ command: 'view', path: join(dir, 'bin') }), 'ERROR_BINARY_FILE');
  });

  it('edits a file that is not UTF-8 as Latin-1, keeping the bytes it does not change, and refuses what Latin-1 cannot hold', async () => {
    const path = join(dir, 'latin1.txt');
    const before = Buffer.from('caf\xe9 cr\xe8me\nna\xefve\n', 'latin1');
    writeFileSync(path, before);
    const obs = await edit({ command: 'str_replace', path, old_str: 'naïve', new_str: 'naïf' });
    expect(obs.success).toBe(true);
    expect(readFileSync(path)).toEqual(Buffer.from('caf\xe9 cr\xe8me\nna\xeff\n', 'latin1'));
    expectError(
      await edit({ command: 'insert', path, insert_line: 0, new_str: 'snow ☃' }),
      'ERROR_INVALID_ARGUMENT',
      `The file ${path} is not UTF-8 and was read as Latin-1, which cannot hold the character "☃" of the new text; nothing was changed. Convert the file to UTF-8 first (for example with iconv) or leave that character out.`,
    );
    await edit({ command: 'undo_edit', path });
    expect(readFileSync(path)).toEqual(before);
  });

  it('resolves a relative path against the session cwd', async () => {
    await server.run(`cd ${dir}`, { session: 'editor' });
    const obs = await edit({ command: 'create', path: 'relative.txt', file_text: 'r\n', session: 'editor' });
    expect(obs.extras.path).toBe(join(dir, 'relative.txt'));
    expect(readFileSync(join(dir, 'relative.txt'), 'utf8')).toBe('r\n');
  });

  it('edits 10 different files at once', async () => {
    const paths = Array.from({ length: 10 }, (_, i) => join(dir, `many-${i}.txt`));
    for (const path of paths) writeFileSync(path, 'start\n');
    const results = await Promise.all(paths.map((path, i) => edit({ command: 'str_replace', path, old_str: 'start', new_str: `done ${i}` })));
    expect(results.every((r) => r.success)).toBe(true);
    paths.forEach((path, i) => expect(readFileSync(path, 'utf8')).toBe(`done ${i}\n`));
  });

  it('serialises concurrent inserts into one file', async () => {
    const path = join(dir, 'one-file.txt');
    writeFileSync(path, '');
    await Promise.all(Array.from({ length: 10 }, (_, i) => edit({ command: 'insert', path, insert_line: 0, new_str: `line ${i}` })));
    expect(readFileSync(path, 'utf8').trim().split('\n').sort()).toEqual(Array.from({ length: 10 }, (_, i) => `line ${i}`).sort());
  });
});
