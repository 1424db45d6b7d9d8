// The service's version (in /health and /openapi.json): one lookup for both services, in
// @runtime-client/http-kit.
export { VERSION } from '@runtime-client/http-kit';
