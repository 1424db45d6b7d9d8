// The one tag an injected image gets, whoever builds it (`runtime-client build`, DockerRuntime.start):
// the same base image, bundle and options always name the same image, so it is built once.
import { createHash } from 'node:crypto';
import { dockerfileInstructions, type DockerfileOptions } from './dockerfile.js';

/**
 * `rc-injected/<base image, sanitized>:<16 hex digits>`, the digits a sha256 of the base image's
 * ID (`baseId`, e.g. `sha256:…`) and the Dockerfile's instructions. Hashing the instructions rather
 * than the options means an option left out and the same option given at its default (port
 * 60000, health interval 5 s, no user) name one image, and any option that changes the image
 * changes the tag. The bundle's version and digest are in the instructions (labels).
 */
export function injectedImageTag(o: DockerfileOptions & { baseId: string }): string {
  const hash = createHash('sha256').update(`${o.baseId}\n${dockerfileInstructions(o)}`).digest('hex').slice(0, 16);
  const name = o.baseImage.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[-.]+|[-.]+$/g, '').slice(0, 100) || 'image';
  return `rc-injected/${name}:${hash}`;
}
