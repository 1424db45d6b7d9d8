// Packing a file or directory tree as a streamed zip (yazl) or tar (tar-stream), modes, times and
// symlinks kept, one file open at a time: the server's downloads and the client's uploads.
import { createReadStream } from 'node:fs';
import { lstat, opendir, readlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import yazl from 'yazl';

interface Item {
  /** Path inside the archive. */
  name: string;
  abs: string;
  kind: 'file' | 'directory' | 'symlink';
  mode: number;
  size: number;
  mtime: Date;
}

/** The items of `root` (a file: itself; a directory: its contents, recursively), depth first. */
async function* walk(root: string): AsyncGenerator<Item> {
  const st = await lstat(root);
  if (!st.isDirectory()) {
    yield item(basename(root), root, st);
    return;
  }
  yield* walkDir(root, '');
}

async function* walkDir(abs: string, prefix: string): AsyncGenerator<Item> {
  const dir = await opendir(abs);
  for await (const d of dir) {
    const childAbs = join(abs, d.name);
    const name = prefix ? `${prefix}/${d.name}` : d.name;
    const st = await lstat(childAbs).catch(() => null);
    if (!st) continue; // removed while walking
    if (st.isDirectory()) {
      yield item(name, childAbs, st);
      yield* walkDir(childAbs, name);
    } else if (st.isFile() || st.isSymbolicLink()) yield item(name, childAbs, st);
    // sockets, fifos and devices are skipped
  }
}

function item(name: string, abs: string, st: import('node:fs').Stats): Item {
  const kind = st.isDirectory() ? 'directory' : st.isSymbolicLink() ? 'symlink' : 'file';
  return { name, abs, kind, mode: st.mode & 0o7777, size: st.size, mtime: st.mtime };
}

/** `compress`: deflate at level 1 (slower: ~30 MiB/s on incompressible data); else entries are stored. */
export async function writeZip(root: string, out: Writable, compress = false): Promise<void> {
  const zip = new yazl.ZipFile();
  const done = pipeline(zip.outputStream as Readable, out);
  for await (const it of walk(root)) {
    const opts = { mtime: it.mtime, mode: it.mode };
    if (it.kind === 'directory') zip.addEmptyDirectory(it.name, { ...opts, mode: 0o040000 | it.mode });
    else if (it.kind === 'symlink') {
      zip.addBuffer(Buffer.from(await readlink(it.abs)), it.name, { ...opts, mode: 0o120000 | 0o777, compress: false });
    } else {
      zip.addReadStreamLazy(it.name, { ...opts, mode: 0o100000 | it.mode, size: it.size, compressionLevel: compress ? 1 : 0 }, (cb) => cb(null, createReadStream(it.abs, { highWaterMark: 2 ** 20 })));
    }
  }
  zip.end();
  await done;
}

export async function writeTar(root: string, out: Writable): Promise<void> {
  const pack = tar.pack();
  const done = pipeline(pack as unknown as Readable, out);
  for await (const it of walk(root)) {
    const header = { name: it.name, mode: it.mode, mtime: it.mtime };
    if (it.kind === 'directory') pack.entry({ ...header, type: 'directory' });
    else if (it.kind === 'symlink') pack.entry({ ...header, type: 'symlink', linkname: await readlink(it.abs) });
    else {
      // Bounded by the size in the header, should the file grow while it is read.
      if (it.size === 0) pack.entry({ ...header, type: 'file', size: 0 }, '');
      else {
        const entry = pack.entry({ ...header, type: 'file', size: it.size });
        await pipeline(createReadStream(it.abs, { end: it.size - 1, highWaterMark: 2 ** 20 }), entry as unknown as Writable);
      }
    }
  }
  pack.finalize();
  await done;
}
