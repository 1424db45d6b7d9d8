// The archive package: tar and zip both ways, streamed, with every entry and link checked before
// anything is written, and a budget on what an archive may unpack to. Both sides run it: the
// server for uploads and downloads, the client for the same from the host.
export { ArchiveError, ArchiveTooLargeError, validateEntries } from './entries.js';
export type { ArchiveEntry, ArchiveErrorCode, EntryKind } from './entries.js';
export { describeBytes, UnpackBudget } from './budget.js';
export { extractInto, stageArchive } from './extract.js';
export type { Owner, Staged } from './extract.js';
export { LinkResolver, MAX_LINKS } from './links.js';
export { packable, writeTar, writeZip } from './pack.js';
export { BufferPool, flow } from './pool.js';
export { untarStream, WRITE_BUFFER } from './untar.js';
export { unzipFile } from './unzip.js';
