// The options the durability loop's child and its checks open the Lifecycle with: clocks far
// beyond the test's length (only the test's own operations change a runtime), room for every
// session, one warm sandbox (so that hand-outs and refills are cut short too).
import type { LifecycleOptions } from '../../control/lifecycle/api.js';

export const DURABILITY_OPTIONS: Omit<LifecycleOptions, 'stateDir'> = {
  defaultTtl: 3600,
  maxTtl: 7200,
  idleTimeout: 3600,
  pausedTtl: 3600,
  maxRuntimes: 10,
  baseCpus: 1,
  baseMemoryMb: 1024,
  maxCpus: 4,
  maxMemoryMb: 8192,
  warm: { process: 1 },
};
