// Listing and unpacking a tar held in a temp file: one pass to check every entry, one to write.
import { createReadStream, createWriteStream } from 'node:fs';
import { link, mkdir, symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import { ApiError } from '../errors.js';
import { bad, isRootEntry, safeEntryPath, validateEntries, type ArchiveEntry } from './entries.js';

/** Unpacks the tar at `tarPath` into the empty directory `into`; returns the entries written. */
export async function untarInto(tarPath: string, into: string): Promise<ArchiveEntry[]> {
  const entries: ArchiveEntry[] = [];
  await walk(tarPath, async (header, stream) => {
    stream.resume();
    if (!isRootEntry(header.name)) entries.push(toEntry(header));
  });
  validateEntries(entries);
  const files = new Set(entries.filter((e) => e.kind === 'file').map((e) => e.path));
  for (const e of entries) if (e.kind === 'hardlink' && !files.has(e.target!)) throw bad(e.path, `is a hard link to ${e.target}, which is not a file in the archive`);
  const links: ArchiveEntry[] = [];
  await walk(tarPath, async (header, stream) => {
    if (isRootEntry(header.name)) return void stream.resume();
    const e = toEntry(header);
    const target = join(into, e.path);
    if (e.kind === 'file') {
      await mkdir(dirname(target), { recursive: true, mode: 0o755 });
      await pipeline(stream, createWriteStream(target, { mode: 0o600 }));
      return;
    }
    stream.resume();
    if (e.kind === 'directory') await mkdir(target, { recursive: true, mode: 0o755 });
    else if (e.kind === 'hardlink') {
      await mkdir(dirname(target), { recursive: true, mode: 0o755 });
      await link(join(into, e.target!), target);
    } else links.push(e);
  });
  for (const e of links) {
    await mkdir(dirname(join(into, e.path)), { recursive: true, mode: 0o755 });
    await symlink(e.target!, join(into, e.path));
  }
  return entries;
}

function toEntry(h: tar.Header): ArchiveEntry {
  const path = safeEntryPath(h.name);
  const mode = (h.mode ?? 0o644) & 0o7777;
  switch (h.type) {
    case 'file':
    case 'contiguous-file':
      return { path, kind: 'file', mode };
    case 'directory':
      return { path, kind: 'directory', mode };
    case 'symlink':
      return { path, kind: 'symlink', mode: 0o777, target: h.linkname ?? '' };
    case 'link':
      return { path, kind: 'hardlink', mode, target: safeEntryPath(h.linkname ?? '') };
    default:
      throw bad(h.name, `has an unsupported type (${h.type})`);
  }
}

async function walk(tarPath: string, onEntry: (h: tar.Header, stream: Readable) => Promise<void>): Promise<void> {
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    onEntry(header, stream as unknown as Readable).then(() => next(), (e) => extract.destroy(e));
  });
  try {
    await pipeline(createReadStream(tarPath), extract as unknown as NodeJS.WritableStream);
  } catch (e) {
    if (e instanceof ApiError) throw e;
    throw new ApiError('bad_request', `the tar could not be unpacked: ${(e as Error).message}`);
  }
}
