// @runtime-client/http-kit: what the sandbox server and the control plane both read requests with.
export { drain, readBodyText, type ReadBodyOptions } from './body.js';
export { HttpKitError, type HttpKitErrorCode } from './errors.js';
export { depthOverflowAt, parseJson } from './json.js';
export { VERSION } from './version.js';
