// The read action: a range of text lines, an image, PDF or video as a data: URL, or an error for a binary file;
// with impl_source "oh_aci", the editor's `view`.
import { readFile } from 'node:fs/promises';
import type { ReadArgs, ReadObservation } from '@runtime-client/protocol';
import type { FileAccess } from './access.js';
import { MAX_CONTENT_BYTES, readLines, sniff } from './content.js';
import { checkPath, editorView } from './edit.js';
import { FileError, fromFsError, mustHaveContent } from './errors.js';

export async function readAction(access: FileAccess, path: string, args: ReadArgs): Promise<ReadObservation> {
  if (args.impl_source === 'oh_aci') {
    // What OpenHands' agent sends for the editor's `view`: the editor's answer, view_range and all.
    await checkPath('view', path, args.path, 'oh_aci');
    const content = await editorView(access, path, args.view_range ?? undefined);
    return { observation: 'read', content, extras: { path, impl_source: 'oh_aci' }, success: true };
  }
  const info = await access.check(path, 'r');
  if (info.isDirectory()) throw new FileError('ERROR_IS_DIRECTORY', `The path ${path} is a directory; read needs a file.`);
  mustHaveContent(info, path);
  try {
    const kind = await sniff(path);
    if (kind.kind === 'binary') {
      throw new FileError('ERROR_BINARY_FILE', `The file ${path} is binary (it holds NUL bytes) and cannot be read as text.`);
    }
    if (kind.kind === 'media') {
      if (info.size > MAX_CONTENT_BYTES) {
        throw new FileError('ERROR_FILE_TOO_LARGE', `The file ${path} (${kind.mime}) is larger than ${MAX_CONTENT_BYTES / 1024 / 1024} MiB.`);
      }
      const data = await readFile(path);
      return {
        observation: 'read',
        content: `data:${kind.mime};base64,${data.toString('base64')}`,
        extras: { path, impl_source: 'default' },
        success: true,
      };
    }
    const range = await readLines(path, args.start, args.end);
    return {
      observation: 'read',
      content: range.text,
      extras: { path, impl_source: 'default' },
      success: true,
      meta: { line_count: range.lineCount, total_lines: range.totalLines },
    };
  } catch (e) {
    throw fromFsError(e, path);
  }
}
