// The server package's entry for programs that embed it: start a server in this process.
// The command line is `./main` (runServerCommand); the sandbox binary is bin.ts, bundled.
export { startServer } from './server.js';
export type { RunningServer } from './server.js';
/** A server that binds now and is given its session by one POST /configure (--await-config). */
export { startAwaiting } from './await-config.js';
export type { AwaitingConfig, AwaitingServer } from './await-config.js';
export { ensureUser, UserSetupError } from './user-setup.js';
export type { UserOutcome, UserRequest } from './user-setup.js';
export { DEFAULTS } from './config.js';
export type { ServerConfig } from './config.js';
export { ApiError, ServerError, UsageError } from './errors.js';
export { createLogger } from './logger.js';
export type { Logger } from './logger.js';
export { VERSION } from './version.js';
