// Unpacking a zip held in a file: yauzl reads the central directory first, so every entry is
// checked before anything is written.
import yauzl from 'yauzl';
import { createWriteStream } from 'node:fs';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import type { Readable } from 'node:stream';
import { ArchiveError, bad, isRootEntry, safeEntryPath, validateEntries, type ArchiveEntry } from './entries.js';
import { asArchiveError, Dirs, makeSymlinks, WRITE_BUFFER } from './untar.js';

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
const S_IFDIR = 0o040000;
const MAX_LINK_BYTES = 4096;

type Zip = yauzl.ZipFile;

/** Unpacks the zip at `zipPath` into the empty directory `into` (a staging directory); returns the entries written. */
export async function unzipFile(zipPath: string, into: string): Promise<ArchiveEntry[]> {
  let zip: Zip;
  try {
    zip = await promisify<string, yauzl.Options, Zip>(yauzl.open)(zipPath, { lazyEntries: true, decodeStrings: false, autoClose: false });
  } catch (e) {
    throw new ArchiveError(`not a valid zip file: ${(e as Error).message}`);
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
        entries.push({ path, kind: 'directory', mode: unixMode & 0o7777 || 0o755, mtime: z.getLastModDate() });
      } else {
        entries.push({ path, kind: 'file', mode: unixMode & 0o7777 || 0o644, mtime: z.getLastModDate() });
      }
    }
    validateEntries(entries);
    const dirs = new Dirs(into);
    for (let i = 0; i < raw.length; i++) {
      const e = entries[i];
      if (e.kind === 'directory') await dirs.make(e.path);
      else if (e.kind === 'file') {
        await dirs.make(dirname(e.path));
        await pipeline(await openStream(zip, raw[i]), createWriteStream(join(into, e.path), { mode: 0o600, highWaterMark: WRITE_BUFFER }));
      }
    }
    await makeSymlinks(entries, dirs);
    return entries;
  } catch (e) {
    throw asArchiveError(e as NodeJS.ErrnoException, 'zip');
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
