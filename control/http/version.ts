// The service's version (in /health and /openapi.json): the bundler's constant, else the root
// package.json of the checkout or install this module runs from.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function readVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
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

export const VERSION: string = process.env.RUNTIME_CLIENT_BUILD_VERSION ?? readVersion();
