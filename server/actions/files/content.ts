// What a file holds, told from its first bytes, and its lines read as a stream (never the whole file).
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { FileError } from './errors.js';

/** How much a read answer or a whole-file edit may hold, in bytes (16 MiB). */
export const MAX_CONTENT_BYTES = 16 * 1024 * 1024;
/** How many leading bytes decide text versus binary. */
const SNIFF_BYTES = 8192;

/** `media`: a file read answers whole as a `data:` URL (images; PDFs, videos and Ogg, as OpenHands' server did). */
export type Sniffed = { kind: 'text' } | { kind: 'binary' } | { kind: 'media'; mime: string };

const IMAGES: { mime: string; magic: number[]; at?: number }[] = [
  { mime: 'image/png', magic: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] },
  { mime: 'image/jpeg', magic: [0xff, 0xd8, 0xff] },
  { mime: 'image/gif', magic: [0x47, 0x49, 0x46, 0x38] },
  { mime: 'image/bmp', magic: [0x42, 0x4d] },
  { mime: 'application/pdf', magic: [0x25, 0x50, 0x44, 0x46, 0x2d] }, // %PDF-
  { mime: 'video/webm', magic: [0x1a, 0x45, 0xdf, 0xa3] },
  { mime: 'audio/ogg', magic: [0x4f, 0x67, 0x67, 0x53] }, // OggS, as Python's mimetypes names .ogg
];

/** Text, binary (a NUL byte in the first 8 KiB) or media (an image, a PDF, a video or Ogg, by magic bytes). */
export async function sniff(path: string): Promise<Sniffed> {
  const handle = await open(path, 'r');
  try {
    const buf = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await handle.read(buf, 0, SNIFF_BYTES, 0);
    const head = buf.subarray(0, bytesRead);
    const media = mediaMime(head);
    if (media) return { kind: 'media', mime: media };
    return head.includes(0) ? { kind: 'binary' } : { kind: 'text' };
  } finally {
    await handle.close();
  }
}

function mediaMime(head: Buffer): string | undefined {
  for (const { mime, magic } of IMAGES) {
    if (head.length >= magic.length && magic.every((b, i) => head[i] === b)) {
      // "BM" alone is common in text; a BMP also has its header size at byte 14.
      if (mime === 'image/bmp' && !(head.length >= 18 && [12, 40, 52, 56, 108, 124].includes(head.readUInt32LE(14)))) continue;
      return mime;
    }
  }
  if (head.length >= 12 && head.toString('latin1', 0, 4) === 'RIFF' && head.toString('latin1', 8, 12) === 'WEBP') return 'image/webp';
  // An ISO media file (MP4) starts with the size of its ftyp box, then 'ftyp'.
  if (head.length >= 12 && head.toString('latin1', 4, 8) === 'ftyp') return 'video/mp4';
  return undefined;
}

export interface LineRange {
  /** The lines [start, end) with their line breaks. */
  text: string;
  /** How many lines `text` holds. */
  lineCount: number;
  /** How many lines the whole file holds (a last line without a break counts). */
  totalLines: number;
}

/**
 * Lines [start, end) of a file (end < 0: to the end) in one streaming pass that also counts every
 * line; memory stays at one chunk plus the lines asked for, capped at MAX_CONTENT_BYTES.
 */
export async function readLines(path: string, start: number, end: number): Promise<LineRange> {
  const from = Math.max(0, start);
  const to = end < 0 ? Infinity : end;
  const kept: Buffer[] = [];
  let keptBytes = 0;
  let line = 0; // index of the line the next byte belongs to
  let lastByte = -1;
  let any = false;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    if (chunk.length === 0) continue;
    any = true;
    lastByte = chunk[chunk.length - 1]!;
    if (line >= to) {
      line += countNewlines(chunk);
      continue;
    }
    let pos = 0;
    while (pos < chunk.length) {
      const nl = chunk.indexOf(10, pos);
      const stop = nl < 0 ? chunk.length : nl + 1;
      if (line >= from && line < to) {
        kept.push(chunk.subarray(pos, stop));
        keptBytes += stop - pos;
        if (keptBytes > MAX_CONTENT_BYTES) {
          throw new FileError('ERROR_FILE_TOO_LARGE', `The lines asked for in ${path} exceed ${MAX_CONTENT_BYTES / 1024 / 1024} MiB; read a smaller range with start and end.`);
        }
      }
      if (nl < 0) break;
      line++;
      pos = stop;
      if (line >= to) {
        line += countNewlines(chunk.subarray(pos));
        break;
      }
    }
  }
  const totalLines = any ? line + (lastByte === 10 ? 0 : 1) : 0;
  const lineCount = Math.max(0, Math.min(to, totalLines) - from);
  return { text: Buffer.concat(kept).toString('utf8'), lineCount, totalLines };
}

function countNewlines(buf: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < buf.length; i++) if (buf[i] === 10) n++;
  return n;
}
