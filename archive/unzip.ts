// Unpacking a zip held in a file: yauzl reads the central directory first, so every entry is
// checked before anything is written.
import yauzl from 'yauzl';
import { createWriteStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { Transform, type Readable } from 'node:stream';
import { ArchiveError, bad, isRootEntry, safeEntryPath, validateEntries, type ArchiveEntry } from './entries.js';
import { UnpackBudget, type UnpackLimits } from './budget.js';
import crc32 from './native-crc32.cjs';
import { asArchiveError, Dirs, makeSymlinks, WRITE_BUFFER } from './untar.js';

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
const S_IFDIR = 0o040000;
const MAX_LINK_BYTES = 4096;
/** Read size for stored entries. */
const CHUNK = 2 ** 20;
/** Files written at once. */
const FILES_AT_ONCE = 4;

type Zip = yauzl.ZipFile;

/**
 * Unpacks the zip at `zipPath` into the empty directory `into` (a staging directory); returns the
 * entries written. Past `limits.maxBytes` it fails with ArchiveTooLargeError: at once when the
 * declared sizes say so, else once the bytes written do.
 */
export async function unzipFile(zipPath: string, into: string, limits: UnpackLimits = {}): Promise<ArchiveEntry[]> {
  const budget = new UnpackBudget(limits.maxBytes ?? Infinity);
  let zip: Zip;
  let data: FileHandle | undefined;
  try {
    zip = await promisify<string, yauzl.Options, Zip>(yauzl.open)(zipPath, { lazyEntries: true, decodeStrings: false, autoClose: false });
  } catch (e) {
    throw new ArchiveError(`not a valid zip file: ${(e as Error).message}`, undefined, 'unreadable');
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
        const bytes = await readBuffer(await openStream(zip, z));
        budget.spend(bytes.length);
        const target = bytes.toString('utf8');
        entries.push({ path, kind: 'symlink', mode: 0o777, target });
      } else if (type === S_IFDIR || name.endsWith('/')) {
        entries.push({ path, kind: 'directory', mode: unixMode & 0o7777 || 0o755, mtime: z.getLastModDate() });
      } else {
        entries.push({ path, kind: 'file', mode: unixMode & 0o7777 || 0o644, mtime: z.getLastModDate() });
      }
    }
    validateEntries(entries);
    const files = raw.flatMap((z, i) => (entries[i].kind === 'file' ? [{ z, path: entries[i].path }] : []));
    budget.checkDeclared(budget.spentBytes + files.reduce((sum, { z }) => sum + z.uncompressedSize, 0));
    const dirs = new Dirs(into);
    for (const e of entries) if (e.kind === 'directory') await dirs.make(e.path);
    data = await open(zipPath, 'r');
    await writeFiles(files, async ({ z, path }, buf) => {
      await dirs.make(dirname(path));
      const dest = join(into, path);
      if (z.compressionMethod === 0 && !z.isEncrypted()) await copyStored(zip, z, data!, buf, dest, path, budget);
      else await pipeline(await openStream(zip, z), crcChecked(z.crc32, path, budget), createWriteStream(dest, { mode: 0o600, highWaterMark: WRITE_BUFFER }));
    });
    await makeSymlinks(entries, dirs);
    return entries;
  } catch (e) {
    throw asArchiveError(e as NodeJS.ErrnoException, 'zip');
  } finally {
    zip.close();
    await data?.close();
  }
}

/**
 * Runs `write` over the files, FILES_AT_ONCE at a time (one's flush overlaps the others' reads),
 * each worker with its own read buffer. Two entries of one name are written in archive order.
 */
async function writeFiles<T extends { path: string }>(files: T[], write: (file: T, buf: Buffer) => Promise<void>): Promise<void> {
  const last = new Map<string, Promise<void>>();
  let next = 0;
  let failed = false;
  const worker = async () => {
    const buf = Buffer.allocUnsafeSlow(CHUNK);
    while (next < files.length && !failed) {
      const file = files[next++];
      const before = last.get(file.path);
      const writing = (async () => {
        await before?.catch(() => {});
        await write(file, buf);
      })();
      last.set(file.path, writing);
      await writing.catch((e: Error) => {
        failed = true;
        throw e;
      });
    }
  };
  const results = await Promise.allSettled(Array.from({ length: Math.min(FILES_AT_ONCE, files.length) }, worker));
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) throw failure.reason;
}

/**
 * A stored entry's bytes copied from the zip with plain reads and writes (yauzl's streams read
 * 16 KiB at a time), its CRC-32 checked: a zip damaged in transit is refused, not unpacked.
 */
async function copyStored(zip: Zip, z: yauzl.Entry, data: FileHandle, buf: Buffer, dest: string, path: string, budget: UnpackBudget): Promise<void> {
  const { fileDataStart } = await zip.readLocalFileHeaderPromise(z, { minimal: true });
  const out = await open(dest, 'w', 0o600);
  try {
    let crc = 0;
    for (let at = 0; at < z.compressedSize; ) {
      const { bytesRead } = await data.read(buf, 0, Math.min(buf.length, z.compressedSize - at), fileDataStart + at);
      if (bytesRead === 0) throw bad(path, 'ends past the end of the zip');
      const chunk = buf.subarray(0, bytesRead);
      budget.spend(chunk.length);
      crc = crc32.unsigned(chunk, crc);
      for (let done = 0; done < chunk.length; ) done += (await out.write(chunk, done)).bytesWritten;
      at += bytesRead;
    }
    if (crc !== z.crc32) throw damaged(path);
  } finally {
    await out.close();
  }
}

function damaged(path: string): ArchiveError {
  return bad(path, 'is damaged: its CRC-32 does not match its data', 'damaged');
}

/**
 * A compressed entry's data passed on as it is inflated, counted in `budget` (failing past its
 * limit), and failing at its end unless its CRC-32 is `expected`.
 */
function crcChecked(expected: number, path: string, budget: UnpackBudget): Transform {
  let crc = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      try {
        budget.spend(chunk.length);
      } catch (e) {
        return callback(e as Error);
      }
      crc = crc32.unsigned(chunk, crc);
      callback(null, chunk);
    },
    flush(callback) {
      callback(crc === expected ? null : damaged(path));
    },
  });
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
