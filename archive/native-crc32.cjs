// yazl hashes every zip entry with buffer-crc32, which is JavaScript: ~420 MB/s here, most of
// what packing a zip costs. Node >= 20.15 computes the same CRC-32 natively (zlib.crc32, ~10x
// faster). yazl calls `.unsigned` on buffer-crc32's CommonJS exports for each chunk, so giving
// that one object the native function speeds up every zip. CommonJS (not ESM) so Node and
// esbuild both hand this file the very instance yazl require()s; plain JavaScript so vitest
// runs it as it is.
'use strict';
const zlib = require('node:zlib');
const bufferCrc32 = require('buffer-crc32');

const javascript = bufferCrc32.unsigned;

if (typeof zlib.crc32 === 'function') {
  bufferCrc32.unsigned = (input, previous) =>
    Buffer.isBuffer(input) && (previous === undefined || typeof previous === 'number') ? zlib.crc32(input, previous ?? 0) : javascript(input, previous);
}

module.exports = bufferCrc32;
