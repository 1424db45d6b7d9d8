// Hand-made archives for the tests of hostile input: a tar (tar-stream) or a zip (yazl) holding
// exactly the entries given, symlinks whose targets no packer of a real tree would write included.
import { readdirSync } from 'node:fs';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import yazl from 'yazl';

export interface EvilEntry {
  name: string;
  /** A file's contents (default 'evil'). */
  data?: string | Buffer;
  /** A symlink to this target. */
  link?: string;
  /** A hard link to this (tar only). */
  hardlink?: string;
}

export async function tarOf(entries: EvilEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const read = (async () => {
    for await (const c of pack as unknown as Readable) chunks.push(c as Buffer);
  })();
  for (const e of entries) {
    if (e.link !== undefined) pack.entry({ name: e.name, type: 'symlink', linkname: e.link });
    else if (e.hardlink !== undefined) pack.entry({ name: e.name, type: 'link', linkname: e.hardlink });
    else pack.entry({ name: e.name }, e.data ?? 'evil');
  }
  pack.finalize();
  await read;
  return Buffer.concat(chunks);
}

/** A zip with unix modes (symlinks as S_IFLNK entries); `compress` deflates the files. */
export async function zipOf(entries: EvilEntry[], compress = false): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const e of entries) {
    if (e.hardlink !== undefined) throw new Error('zipOf: a zip has no hard links');
    if (e.link !== undefined) zip.addBuffer(Buffer.from(e.link), e.name, { mode: 0o120777, compress: false });
    else zip.addBuffer(Buffer.from(e.data ?? 'evil'), e.name, { mode: 0o100644, compress });
  }
  zip.end();
  const chunks: Buffer[] = [];
  for await (const c of zip.outputStream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/**
 * `x/l1 -> ..`, `l2 -> x/l1/..`, then `l3 -> l2/..` and so on up to `l<n>`: each link stays inside
 * the destination when checked alone, but `l<k>` leads k-1 levels above it (and to `/` once k-1
 * is the destination's depth), through k links.
 */
export function linkChain(n: number): EvilEntry[] {
  const chain: EvilEntry[] = [
    { name: 'x/l1', link: '..' },
    { name: 'l2', link: 'x/l1/..' },
  ];
  for (let k = 3; k <= n; k++) chain.push({ name: `l${k}`, link: `l${k - 1}/..` });
  return chain;
}

/** Every name under `dir`, recursively, as relative paths (nothing followed). */
export function tree(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).sort();
}
