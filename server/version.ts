// The package version (the bundler's constant, else the checkout's package.json): one lookup for
// both services, in @runtime-client/http-kit.
export { VERSION } from '@runtime-client/http-kit';
