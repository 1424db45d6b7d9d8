// The server package's entry for programs that embed it: start a server in this process.
// The command line is `./main` (runServerCommand); the sandbox binary is bin.ts, bundled.
export { startServer } from './server.js';
export type { RunningServer } from './server.js';
export { DEFAULTS } from './config.js';
export type { ServerConfig } from './config.js';
export { ApiError, ServerError, UsageError } from './errors.js';
export { createLogger } from './logger.js';
export type { Logger } from './logger.js';
export { VERSION } from './version.js';
