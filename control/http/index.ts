// The runtime API's HTTP side, as the package entry and `runtime-client api` use it.
export { startApiServer, ApiConfigError, isLoopback } from './server.js';
export type { ApiServer, ApiServerOptions } from './server.js';
export { runApiService } from './service.js';
export type { ApiServiceOptions } from './service.js';
export { CONTROL_API_ERRORS, ControlApiError } from './errors.js';
export type { ControlApiErrorCode } from './errors.js';
