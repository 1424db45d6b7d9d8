// The file routes: POST /upload_file, GET /download_files, POST /list_files.
import * as z from 'zod';

/** How a query parameter says yes: `true`, `1` or `yes`; any other value is no. */
const QueryFlag = z.enum(['true', '1', 'yes', 'false', '0', 'no']);
/** The archive format on the wire. */
export const ArchiveFormat = z.enum(['zip', 'tar']).meta({ id: 'ArchiveFormat' });
export type ArchiveFormat = z.infer<typeof ArchiveFormat>;

/** POST /upload_file?...: the query; the body is multipart/form-data with one field `file`. */
export const UploadQuery = z.object({
  destination: z.string().describe('The absolute directory the file lands in (made when missing).'),
  recursive: QueryFlag.optional().describe('Unpack the file, an archive in `format`, into `destination`. Default no.'),
  format: ArchiveFormat.default('zip').describe('The archive format when `recursive`. Default `zip`.'),
});
export type UploadQuery = z.infer<typeof UploadQuery>;

/** POST /upload_file: what was written. */
export const UploadResult = z.object({
  destination: z.string(),
  paths: z.array(z.string()).describe("Absolute paths written: the file, or the archive's top-level entries."),
  bytes: z.number().int().min(0).describe('Bytes received: the file, or the archive.'),
});
export type UploadResult = z.infer<typeof UploadResult>;

/** GET /download_files?...: the answer is the archive itself (application/zip or application/x-tar). */
export const DownloadQuery = z.object({
  path: z.string().describe('The absolute path of a file, directory or symlink.'),
  format: ArchiveFormat.default('zip').describe('Default `zip`.'),
  compress: QueryFlag.optional().describe("Deflate the zip's entries. Default no (stored)."),
});
export type DownloadQuery = z.infer<typeof DownloadQuery>;

/** POST /list_files. */
export const ListFilesRequest = z.object({
  path: z.string().nullable().optional().describe("Relative paths start at the default session's cwd, which is also the default."),
});
export type ListFilesRequest = z.infer<typeof ListFilesRequest>;

/** POST /list_files: directories first (with a trailing `/`), then files, case-insensitive order; a file lists as its own name. */
export const ListFilesResult = z.array(z.string());
export type ListFilesResult = z.infer<typeof ListFilesResult>;
