// Finding the self-contained bundle (dist/runtime-client/, built by `npm run bundle`) and its manifest.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const isSea = (): boolean => {
  try {
    return createRequire(import.meta.url)('node:sea').isSea();
  } catch {
    return false;
  }
};

/** Where injected images and mounts put the bundle; the bundle's binaries expect this path. */
export const BUNDLE_MOUNT = '/opt/runtime-client';

export interface BundleInfo {
  dir: string;
  version: string;
  /** sha256 over every file of the bundle: names the images built from it. */
  digest: string;
}

/** The bundle named by `dir`, $RUNTIME_CLIENT_BUNDLE, or the package's own dist/runtime-client. */
export function findBundle(dir?: string): BundleInfo {
  const candidate = resolve(dir ?? process.env.RUNTIME_CLIENT_BUNDLE ?? defaultBundleDir());
  const manifestPath = join(candidate, 'manifest.json');
  if (!existsSync(manifestPath)) {
    throw new Error(`no runtime-client bundle at ${candidate} (missing manifest.json); build it with \`npm run bundle\` or pass --bundle DIR`);
  }
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { version: string; digest: string };
  return { dir: candidate, version: manifest.version, digest: manifest.digest };
}

/** Inside a bundle: that bundle; else the package's dist/runtime-client. */
function defaultBundleDir(): string {
  return isSea() ? dirname(dirname(process.execPath)) : join(packageRoot(), 'dist', 'runtime-client');
}

/** The directory holding this package's package.json. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      if (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name === 'runtime-client') return dir;
    } catch {
      // keep looking up
    }
    dir = dirname(dir);
  }
  return process.cwd();
}
