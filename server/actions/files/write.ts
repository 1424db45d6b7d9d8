// The write action: a whole file, or lines [start, end) of an existing one replaced by the content.
import type { Stats } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import type { WriteArgs, WriteObservation } from '@runtime-client/protocol';
import type { FileAccess } from './access.js';
import { writeWhole } from './atomic.js';
import { MAX_CONTENT_BYTES } from './content.js';
import { FileError, fromFsError, specialKind } from './errors.js';

export async function writeAction(access: FileAccess, path: string, args: WriteArgs): Promise<WriteObservation> {
  const existing = await existingFile(access, path);
  let content = args.content;
  const whole = args.start <= 0 && args.end < 0;
  if (existing?.isCharacterDevice() && !whole) {
    throw new FileError('ERROR_NOT_REGULAR_FILE', `The path ${path} is a character device; its lines cannot be replaced, only written to (without start and end).`);
  }
  if (existing && !whole) {
    if (existing.size > MAX_CONTENT_BYTES) {
      throw new FileError('ERROR_FILE_TOO_LARGE', `The file ${path} is larger than ${MAX_CONTENT_BYTES / 1024 / 1024} MiB; a line range of it cannot be replaced.`);
    }
    const old = await readFile(path, 'utf8').catch((e: unknown) => {
      throw fromFsError(e, path);
    });
    content = replaceLines(old, args.content, args.start, args.end);
  }
  await writeWhole(access, path, content, existing);
  return { observation: 'write', content: '', extras: { path }, success: true };
}

/** The stat of `path` if it exists and the session user may write it; undefined if it is new. */
export async function existingFile(access: FileAccess, path: string): Promise<Stats | undefined> {
  const info = await stat(path).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw fromFsError(e, path);
  });
  if (!info) {
    await access.checkCreate(path);
    return undefined;
  }
  if (info.isDirectory()) throw new FileError('ERROR_IS_DIRECTORY', `The path ${path} is a directory; write needs a file.`);
  // Replacing a pipe or a device with a file (a temp file renamed over it) would break whatever
  // uses it (/dev/null!). A character device is written into; the others are refused.
  const kind = specialKind(info);
  if (kind && !info.isCharacterDevice()) {
    throw new FileError('ERROR_NOT_REGULAR_FILE', `The path ${path} is ${kind}, not a regular file; it was left as it is. Write to it with a command instead.`);
  }
  await access.check(path, 'w');
  return info;
}

/** `old` with its lines [start, end) (end < 0: to the end) replaced by `text`. */
export function replaceLines(old: string, text: string, start: number, end: number): string {
  const lines = old.match(/[^\n]*\n|[^\n]+$/g) ?? [];
  const from = Math.min(Math.max(0, start), lines.length);
  const to = end < 0 ? lines.length : Math.min(Math.max(from, end), lines.length);
  const after = lines.slice(to).join('');
  let middle = text;
  if (after && middle && !middle.endsWith('\n')) middle += '\n';
  let before = lines.slice(0, from).join('');
  if (before && !before.endsWith('\n') && middle) before += '\n';
  return before + middle + after;
}
