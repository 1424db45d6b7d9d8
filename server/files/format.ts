// What an uploaded archive really is, from its first bytes (its magic number), so that one sent
// with the wrong `format` is answered with what it is and how to send it, not with the parser's
// complaint about the format it was taken for.

/** Bytes to keep from the start of an upload: a tar's `ustar` magic ends at 263. */
export const SNIFF_BYTES = 512;

/** Formats told apart by their first bytes; `tar` is the POSIX/GNU one (a v7 tar has no magic). */
export type SniffedFormat = 'zip' | 'tar' | 'gzip' | 'bzip2' | 'xz' | 'zstd' | '7z' | 'rar';

const MAGIC: [SniffedFormat, number, Buffer][] = [
  // A zip starts with a local file header, or with the end record when it is empty.
  ['zip', 0, Buffer.from('PK\x03\x04', 'latin1')],
  ['zip', 0, Buffer.from('PK\x05\x06', 'latin1')],
  ['gzip', 0, Buffer.from([0x1f, 0x8b])],
  ['bzip2', 0, Buffer.from('BZh', 'latin1')],
  ['xz', 0, Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])],
  ['zstd', 0, Buffer.from([0x28, 0xb5, 0x2f, 0xfd])],
  ['7z', 0, Buffer.from([0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c])],
  ['rar', 0, Buffer.from('Rar!\x1a\x07', 'latin1')],
  // `ustar\0` (POSIX) or `ustar ` (GNU) at 257, in the first header.
  ['tar', 257, Buffer.from('ustar', 'latin1')],
];

/** File name suffixes of the compressors, for a guess at what was sent. */
const SUFFIX: Partial<Record<SniffedFormat, string>> = { gzip: 'gz', bzip2: 'bz2', xz: 'xz', zstd: 'zst' };

/** The format the first bytes of a file show, or null when they match none of MAGIC. */
export function sniffFormat(head: Buffer): SniffedFormat | null {
  for (const [format, offset, magic] of MAGIC) {
    if (head.length >= offset + magic.length && head.subarray(offset, offset + magic.length).equals(magic)) return format;
  }
  return null;
}

/**
 * Why an upload taken as `expected` failed, when its first bytes show it is something else: a
 * sentence naming what it is and how to send it; null when they show nothing else.
 */
export function wrongFormat(head: Buffer, expected: 'zip' | 'tar'): { found: SniffedFormat; message: string } | null {
  const found = sniffFormat(head);
  if (found === null || found === expected) return null;
  const what =
    found === 'tar' || found === 'zip' || found === '7z' || found === 'rar'
      ? `a ${found} archive`
      : `${found}-compressed (a .tar.${SUFFIX[found] ?? found}?)`;
  let advice: string;
  if (found === 'tar') advice = 'send it with format=tar';
  else if (found === 'zip') advice = 'send it with format=zip, or without format';
  else if (found === '7z' || found === 'rar') advice = 'the server unpacks zip (format=zip) and tar (format=tar) only';
  else advice = 'the server unpacks a zip (format=zip) or an uncompressed tar (format=tar), so decompress it first (or send it without recursive=true to store the file as it is)';
  const message = `the upload is ${what}, but was read as a ${expected} (format=${expected}${expected === 'zip' ? ', the default' : ''}): ${advice}`;
  return { found, message: `${message}; nothing was extracted` };
}
