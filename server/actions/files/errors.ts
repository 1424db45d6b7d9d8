// File actions fail as data: an error observation with a stable error_id and one clear sentence.
import type { Stats } from 'node:fs';
import type { ErrorObservation } from '@runtime-client/protocol';
import { ServerError } from '../../errors.js';

/**
 * The error_id values a file action can answer with:
 * - `ERROR_FILE_NOT_FOUND`: the path (or a parent) does not exist.
 * - `ERROR_PERMISSION_DENIED`: the session user may not read, write or enter it.
 * - `ERROR_IS_DIRECTORY`: a directory was given where a file is needed.
 * - `ERROR_NOT_DIRECTORY`: a path component that should be a directory is a file.
 * - `ERROR_NOT_REGULAR_FILE`: a named pipe, socket or device where a file's content is needed.
 * - `ERROR_BINARY_FILE`: the file holds NUL bytes in its first 8 KiB and is not an image.
 * - `ERROR_FILE_TOO_LARGE`: the answer (or the whole-file edit) would exceed the size limit.
 * - `ERROR_FILE_EXISTS`: `create` on a path that exists.
 * - `ERROR_INVALID_ARGUMENT`: a missing or out-of-range parameter (view_range, insert_line, ...).
 * - `ERROR_NO_MATCH` / `ERROR_MULTIPLE_MATCHES`: `str_replace` found old_str zero or several times.
 * - `ERROR_NO_HISTORY`: `undo_edit` with nothing to undo.
 * - `ERROR_FILE_OPERATION`: any other failure of the file system, with its message.
 */
export type FileErrorId =
  | 'ERROR_FILE_NOT_FOUND'
  | 'ERROR_PERMISSION_DENIED'
  | 'ERROR_IS_DIRECTORY'
  | 'ERROR_NOT_DIRECTORY'
  | 'ERROR_NOT_REGULAR_FILE'
  | 'ERROR_BINARY_FILE'
  | 'ERROR_FILE_TOO_LARGE'
  | 'ERROR_FILE_EXISTS'
  | 'ERROR_INVALID_ARGUMENT'
  | 'ERROR_NO_MATCH'
  | 'ERROR_MULTIPLE_MATCHES'
  | 'ERROR_NO_HISTORY'
  | 'ERROR_FILE_OPERATION';

/** A file action that failed as data: answered as an error observation with `error_id` = `code`. */
export class FileError extends ServerError {
  declare readonly code: FileErrorId;

  constructor(errorId: FileErrorId, message: string) {
    super(errorId, message);
  }

  get errorId(): FileErrorId {
    return this.code;
  }
}

/** What `info` is when it is neither a regular file nor a directory ('a named pipe (FIFO)', ...); else null. */
export function specialKind(info: Stats): string | null {
  if (info.isFIFO()) return 'a named pipe (FIFO)';
  if (info.isSocket()) return 'a socket';
  if (info.isCharacterDevice()) return 'a character device';
  if (info.isBlockDevice()) return 'a block device';
  return null;
}

/**
 * Throws unless `info` (of `path`) is a regular file or a directory. Reading a named pipe waits
 * for a writer, for ever if none comes, and a device may never end (/dev/zero): a command can
 * read those with a limit and a timeout, an action cannot.
 */
export function mustHaveContent(info: Stats, path: string): void {
  const kind = specialKind(info);
  if (kind) throw new FileError('ERROR_NOT_REGULAR_FILE', `The path ${path} is ${kind}, not a regular file; read it with a command instead (for example \`head -c 4096 ${path}\`).`);
}

/** A Node fs error (ENOENT, EACCES, ...) as a FileError about `path`. */
export function fromFsError(error: unknown, path: string): FileError {
  if (error instanceof FileError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT':
      return new FileError('ERROR_FILE_NOT_FOUND', `The path ${path} does not exist. Please provide a valid path.`);
    case 'EACCES':
    case 'EPERM':
      return new FileError('ERROR_PERMISSION_DENIED', `Permission denied: the session user may not access ${path}.`);
    case 'EISDIR':
      return new FileError('ERROR_IS_DIRECTORY', `The path ${path} is a directory, not a file.`);
    case 'ENOTDIR':
      return new FileError('ERROR_NOT_DIRECTORY', `A component of the path ${path} is not a directory.`);
    default:
      return new FileError('ERROR_FILE_OPERATION', `The file operation on ${path} failed: ${(error as Error).message}`);
  }
}

export function errorObservation(error: FileError): ErrorObservation {
  return { observation: 'error', content: error.message, extras: { error_id: error.errorId }, success: false };
}
