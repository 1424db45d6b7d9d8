// What the durability loop's child and its checks open the Lifecycle with: clocks far beyond the
// test's length (only the test's own operations change a runtime), room for every session, one
// warm sandbox (so that hand-outs and refills are cut short too), over either driver: runtime-client
// processes (process-driver.ts) or the Docker engine (control/docker/, rc-test/bookworm:1).
import { join } from 'node:path';
import { DockerDriver } from '../../control/docker/index.js';
import type { Driver } from '../../control/driver.js';
import type { LifecycleOptions } from '../../control/lifecycle/api.js';
import { ProcessDriver } from './process-driver.js';

export type DriverKind = 'process' | 'docker';

export interface DurabilitySetup {
  driver: Driver;
  image: string;
  /** The options without the warm pool: the checks open the state without refilling it. */
  options: LifecycleOptions;
}

export function durabilitySetup(kind: DriverKind, root: string): DurabilitySetup {
  const image = kind === 'docker' ? 'rc-test/bookworm:1' : 'process';
  const driver = kind === 'docker' ? new DockerDriver() : new ProcessDriver(join(root, 'sandboxes'));
  return {
    driver,
    image,
    options: {
      defaultTtl: 3600,
      maxTtl: 7200,
      idleTimeout: 3600,
      pausedTtl: 3600,
      maxRuntimes: 10,
      baseCpus: 1,
      baseMemoryMb: 512,
      maxCpus: 4,
      maxMemoryMb: 8192,
      warm: {},
      stateDir: join(root, 'state'),
    },
  };
}

/** The child's warm pool: one of the image. */
export const warmOf = (image: string): Record<string, number> => ({ [image]: 1 });
