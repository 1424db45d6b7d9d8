// Finding the cell driver (driver.py) that the server hands to the image's python. It travels in
// the bundle beside the server; the server copies it into its runtime dir, where the session
// user can read it wherever the bundle is mounted.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The file name beside the bundled server. */
export const DRIVER_FILE = 'ipython-driver.py';

/**
 * The driver's source, or undefined when there is none. Looked for beside the executable (the
 * bundle's bin/), beside the built dist/runtime-client.mjs, beside this source, and from tsc's
 * server/dist/ipython/.
 */
export function driverSource(execPath: string = process.execPath, moduleUrl: string = import.meta.url): string | undefined {
  const here = dirname(fileURLToPath(moduleUrl));
  const candidates = [
    join(dirname(execPath), DRIVER_FILE),
    join(dirname(dirname(execPath)), 'bin', DRIVER_FILE),
    join(here, DRIVER_FILE),
    join(here, 'driver.py'),
    join(here, '..', '..', 'ipython', 'driver.py'),
  ];
  const found = candidates.find((p) => existsSync(p));
  return found === undefined ? undefined : readFileSync(found, 'utf8');
}
