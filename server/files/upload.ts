// POST /upload_file: a file is streamed to a temp name beside its final one and renamed; an
// archive is unpacked into a staging directory inside the destination (a tar as it streams in, a
// zip from a temp file, since its index is at the end) and moved into place only once the whole
// body arrived within the limit (and, unpacked, within maxUnpackedBytes). No half-written file is
// ever visible.
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, lchown, rename, rm } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Request } from 'express';
import { ArchiveError, ArchiveTooLargeError } from '@runtime-client/archive';
import { stageArchive, type Owner, type Staged } from '@runtime-client/archive';
import { untarStream, WRITE_BUFFER } from '@runtime-client/archive';
import { unzipFile } from '@runtime-client/archive';
import { makeDirs } from '../actions/files/atomic.js';
import { ApiError } from '../errors.js';
import { receiveFile, type MinUploadRate } from './receive.js';
import { SNIFF_BYTES, wrongFormat } from './format.js';

export type { Owner } from '@runtime-client/archive';

export interface UploadOptions {
  destination: string;
  recursive: boolean;
  format: 'zip' | 'tar';
  maxBytes: number;
  /** What an archive may unpack to, in bytes; past it: 413 and nothing left. */
  maxUnpackedBytes: number;
  owner?: Owner;
  /** The slowest an upload may arrive (default DEFAULT_MIN_UPLOAD_RATE). */
  minRate?: MinUploadRate;
}

export interface UploadResult {
  /** Paths written (the file, or the archive's top-level entries), absolute. */
  paths: string[];
  bytes: number;
}

export async function handleUpload(req: Request, opts: UploadOptions): Promise<UploadResult> {
  const { destination, owner } = opts;
  const limits = { maxBytes: opts.maxUnpackedBytes };
  if (!isAbsolute(destination)) throw new ApiError('bad_request', `destination must be an absolute path, got ${JSON.stringify(destination)}`);
  await makeDirs(destination, async (path) => owner && lchown(path, owner.uid, owner.gid));
  const tempPath = join(destination, `.rc-upload-${randomBytes(6).toString('hex')}.part`);
  let staged: Staged | null = null;
  let head = Buffer.alloc(0);
  const failed = (e: unknown) => archiveToApi(e, opts.format, head);
  try {
    const got = await receiveFile(req, opts.maxBytes, async (stream) => {
      // The first bytes, kept to name what an archive that fails to unpack really is. receiveFile
      // hands the stream over paused, so this listener does not start the flow.
      const keep = (chunk: Buffer) => {
        head = Buffer.concat([head, chunk.subarray(0, SNIFF_BYTES - head.length)]);
        if (head.length >= SNIFF_BYTES) stream.off('data', keep);
      };
      if (opts.recursive) stream.on('data', keep);
      if (opts.recursive && opts.format === 'tar') {
        staged = await stageArchive(destination, (staging) => untarStream(stream, staging, limits), { owner }).catch(failed);
        return;
      }
      await pipeline(stream, createWriteStream(tempPath, { mode: 0o600, highWaterMark: WRITE_BUFFER }));
    }, opts.minRate);
    if (opts.recursive && opts.format === 'zip') staged = await stageArchive(destination, (staging) => unzipFile(tempPath, staging, limits), { owner }).catch(failed);
    if (staged) return { paths: await (staged as Staged).commit(), bytes: got.bytes };
    const final = join(destination, got.filename);
    if (owner) await lchown(tempPath, owner.uid, owner.gid);
    await chmod(tempPath, 0o644);
    await rename(tempPath, final);
    return { paths: [final], bytes: got.bytes };
  } finally {
    await rm(tempPath, { force: true });
    await (staged as Staged | null)?.discard();
  }
}

/** An archive's failure as the answer; one whose first bytes show another format says which, and how to send it. */
function archiveToApi(e: unknown, format: 'zip' | 'tar', head: Buffer): never {
  if (e instanceof ArchiveTooLargeError) {
    const mb = e.limitBytes / 2 ** 20;
    throw new ApiError('payload_too_large', `the archive unpacks to more than ${mb} MiB (--max-unpacked-mb); nothing was extracted`, { max_unpacked_mb: mb });
  }
  const wrong = e instanceof ArchiveError ? wrongFormat(head, format) : null;
  if (wrong) throw new ApiError('bad_request', wrong.message, { format, found: wrong.found });
  if (e instanceof ArchiveError) throw new ApiError('bad_request', e.message, e.entry === undefined ? undefined : { entry: e.entry });
  throw e;
}
