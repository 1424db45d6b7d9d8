// The image side of Docker injection: the Dockerfile suffix stage, the labels and context layout
// it uses, the injected image's tag, mount-mode arguments, and finding the bundle on the host.
// No engine calls: the client's Docker backend builds and runs with what this gives.
export { BUNDLE_MOUNT, findBundle } from './bundle.js';
export type { BundleInfo } from './bundle.js';
export { CONTEXT_BUNDLE_DIR, CONTEXT_EMPTY_DIR, LABEL_BASE, LABEL_DIGEST, LABEL_VERSION, dockerfileInstructions, renderDockerfile } from './dockerfile.js';
export type { DockerfileOptions } from './dockerfile.js';
export { injectedImageTag } from './tag.js';
export { mountCreateBody, mountRunArgs } from './mount.js';
export type { MountOptions } from './mount.js';
