// The runtime-client version both services report (/health, /openapi.json, --version): the
// bundler's constant, else the root package.json of the checkout or install this module runs from.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** How many folders up from this module the `runtime-client` package.json is looked for. */
const LEVELS = 6;

function readVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < LEVELS; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      if (pkg.name === 'runtime-client') return pkg.version;
    } catch {
      // not here; look further up
    }
    dir = dirname(dir);
  }
  return '0.0.0';
}

/** Injected by the bundler as a constant; read from package.json when running from source; `0.0.0` when neither is found. */
export const VERSION: string = process.env.RUNTIME_CLIENT_BUILD_VERSION ?? readVersion();
