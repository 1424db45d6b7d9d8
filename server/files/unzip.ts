// Listing and unpacking a zip held in a temp file (yauzl reads the central directory first).
import yauzl from 'yauzl';
import { createWriteStream } from 'node:fs';
import { mkdir, symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import type { Readable } from 'node:stream';
import { ApiError } from '../errors.js';
import { bad, isRootEntry, safeEntryPath, validateEntries, type ArchiveEntry } from './entries.js';

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
const S_IFDIR = 0o040000;
const MAX_LINK_BYTES = 4096;

type Zip = yauzl.ZipFile;

/** Unpacks the zip at `zipPath` into the empty directory `into`; returns the entries written. */
export async function unzipInto(zipPath: string, into: string): Promise<ArchiveEntry[]> {
  let zip: Zip;
  try {
    zip = await promisify<string, yauzl.Options, Zip>(yauzl.open)(zipPath, { lazyEntries: true, decodeStrings: false, autoClose: false });
  } catch (e) {
    throw new ApiError('bad_request', `the upload is not a valid zip file: ${(e as Error).message}`);
  }
  try {
    const raw = (await readAll(zip)).filter((z) => !isRootEntry((z.fileName as unknown as Buffer).toString('utf8')));
    const entries: ArchiveEntry[] = [];
    for (const z of raw) {
      const name = (z.fileName as unknown as Buffer).toString('utf8');
      const unixMode = z.externalFileAttributes >>> 16;
      const type = unixMode & S_IFMT;
      const path = safeEntryPath(name);
      if (type === S_IFLNK) {
        if (z.uncompressedSize > MAX_LINK_BYTES) throw bad(name, 'is a symlink with an overlong target');
        const target = (await readBuffer(await openStream(zip, z))).toString('utf8');
        entries.push({ path, kind: 'symlink', mode: 0o777, target });
      } else if (type === S_IFDIR || name.endsWith('/')) {
        entries.push({ path, kind: 'directory', mode: unixMode & 0o7777 || 0o755 });
      } else {
        entries.push({ path, kind: 'file', mode: unixMode & 0o7777 || 0o644 });
      }
    }
    validateEntries(entries);
    for (let i = 0; i < raw.length; i++) {
      const e = entries[i];
      const target = join(into, e.path);
      if (e.kind === 'directory') await mkdir(target, { recursive: true, mode: 0o755 });
      else if (e.kind === 'file') {
        await mkdir(dirname(target), { recursive: true, mode: 0o755 });
        await pipeline(await openStream(zip, raw[i]), createWriteStream(target, { mode: 0o600 }));
      }
    }
    for (const e of entries) {
      if (e.kind !== 'symlink') continue;
      await mkdir(dirname(join(into, e.path)), { recursive: true, mode: 0o755 });
      await symlink(e.target!, join(into, e.path));
    }
    return entries;
  } catch (e) {
    if (e instanceof ApiError) throw e;
    throw new ApiError('bad_request', `the zip could not be unpacked: ${(e as Error).message}`);
  } finally {
    zip.close();
  }
}

function readAll(zip: Zip): Promise<yauzl.Entry[]> {
  return new Promise((resolve, reject) => {
    const all: yauzl.Entry[] = [];
    zip.on('entry', (entry: yauzl.Entry) => {
      all.push(entry);
      zip.readEntry();
    });
    zip.once('end', () => resolve(all));
    zip.once('error', reject);
    zip.readEntry();
  });
}

function openStream(zip: Zip, entry: yauzl.Entry): Promise<Readable> {
  return promisify<yauzl.Entry, Readable>(zip.openReadStream.bind(zip))(entry);
}

async function readBuffer(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
