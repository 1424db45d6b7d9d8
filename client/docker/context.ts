// The build context of an injected image now lives in @runtime-client/dockerfiles (the control
// plane writes one too, and may not import the client): re-exported here for the client's own
// modules and for the names its Docker entry has always given.
export { writeBuildContext } from '@runtime-client/dockerfiles';
export type { BuildContext, ContextOptions } from '@runtime-client/dockerfiles';
