// Server settings: CLI flags, then environment, then defaults. Every unit is in the name.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DEFAULT_PORT } from '@runtime-client/protocol';
import { UsageError } from './errors.js';

export interface ServerConfig {
  /** Listen address. Default 0.0.0.0. */
  host: string;
  /** Listen port; 0 picks a free one. Default 60000. */
  port: number;
  /** Where sessions start. Default: the process's cwd. */
  workingDir: string;
  /** Run shells as this user (the server must be root to switch). Default: the server's user. */
  username?: string;
  /** Path of bash. Default: /bin/bash, /usr/bin/bash, or the bash shipped beside the executable. */
  shell: string;
  /** pino level. Default info. */
  logLevel: string;
  /** Required in X-Session-API-Key when set (env SESSION_API_KEY or --api-key-file). */
  apiKey?: string;
  /** Env NO_CHANGE_TIMEOUT_SECONDS: a non-blocking command returns after this long without output. Default 10. */
  noChangeTimeoutSeconds: number;
  /** Env MAX_OUTPUT_CHARS: longer `content` is truncated (head and tail kept). Default 30000. */
  maxOutputChars: number;
  /** JSON bodies above this many MiB get 413. Default 10. */
  maxBodyMb: number;
  /** Uploads (POST /upload_file) above this many MiB get 413. Default 10240. */
  maxUploadMb?: number;
  /** An archive that would unpack to more than this many MiB gets 413, and nothing is left. Default 10240. */
  maxUnpackedMb?: number;
  /** A JSON body must arrive whole within this many seconds. Default 60. */
  bodyTimeoutSeconds?: number;
  /** The most named sessions at once; past it the one idle longest is ended. Default 100. */
  maxSessions: number;
  /** All spill files (whole outputs of truncated observations) together, in MiB. Default 512. */
  maxSpillMb: number;
  /** How long an action waits for a new shell's first prompt before it answers that the shell is still starting, in seconds. Default 15. */
  shellStartTimeoutSeconds: number;
}

export const DEFAULTS = {
  host: '0.0.0.0',
  port: DEFAULT_PORT,
  logLevel: 'info',
  noChangeTimeoutSeconds: 10,
  maxOutputChars: 30000,
  maxBodyMb: 10,
  maxUploadMb: 10240,
  maxUnpackedMb: 10240,
  bodyTimeoutSeconds: 60,
  maxSessions: 100,
  maxSpillMb: 512,
  shellStartTimeoutSeconds: 15,
} as const;

/** Reads a positive number from the environment, with a clear error for anything else. */
export function envNumber(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    throw new UsageError(`${name} must be a positive number, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** The bash to use when none is named: the image's own, else the static one the bundle ships. */
export function defaultShell(execPath = process.execPath): string {
  // Beside the executable; or in ../bin when it was started through the bundled loader (lib/).
  const candidates = ['/bin/bash', '/usr/bin/bash', join(dirname(execPath), 'bash'), join(dirname(dirname(execPath)), 'bin', 'bash')];
  return candidates.find((p) => existsSync(p)) ?? '/bin/bash';
}

/** The port from RUNTIME_CLIENT_PORT (set by injected images), else 60000. */
export function defaultPort(env: NodeJS.ProcessEnv = process.env): number {
  const port = Number(env.RUNTIME_CLIENT_PORT);
  return Number.isInteger(port) && port > 0 && port < 65536 ? port : DEFAULTS.port;
}

/** A --port value: an integer from 0 to 65535, or `fallback` when absent. */
export function portOf(raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be an integer from 0 to 65535, got ${JSON.stringify(raw)}`);
  return port;
}

/** A flag that takes a positive number (`integer`: a whole one), or `fallback` when absent. */
export function positiveFlag(name: string, raw: string | undefined, fallback: number, integer = false): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new UsageError(`--${name} must be a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(raw)}`);
  }
  return value;
}
