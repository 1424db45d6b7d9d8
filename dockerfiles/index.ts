// The image side of Docker injection: the Dockerfile suffix stage, the labels and context layout
// it uses, the injected image's tag, mount-mode arguments, and finding the bundle on the host.
// No engine calls: the client's Docker backend and the control plane's Docker driver build and
// run with what this gives (a build context is written to disk, never sent).
export { BUNDLE_MOUNT, findBundle } from './bundle.js';
export { CONTEXT_FILES, writeBuildContext } from './context.js';
export type { BuildContext, ContextOptions } from './context.js';
export type { BundleInfo } from './bundle.js';
export { CONTEXT_BUNDLE_DIR, CONTEXT_EMPTY_DIR, LABEL_BASE, LABEL_DIGEST, LABEL_VERSION, dockerfileInstructions, renderDockerfile } from './dockerfile.js';
export type { DockerfileOptions } from './dockerfile.js';
export { injectedImageTag } from './tag.js';
export { mountCreateBody, mountRunArgs } from './mount.js';
export type { MountOptions } from './mount.js';
