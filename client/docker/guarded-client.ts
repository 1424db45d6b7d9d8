// The RuntimeClient of a Docker runtime: the backends' pause-aware client under the name Docker
// users already know.
import { GuardedRuntimeClient } from '../backends/guarded-client.js';

export type { ClientGuard } from '../backends/guarded-client.js';

/** A DockerRuntime's client: while the container is paused, calls fail at once with RuntimeError 'paused'. */
export class DockerRuntimeClient extends GuardedRuntimeClient {}
