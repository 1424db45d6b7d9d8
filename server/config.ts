// Server settings: CLI flags, then environment, then defaults. Every unit is in the name.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DEFAULT_PORT, MAX_TIMEOUT_SECONDS } from '@runtime-client/protocol';
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
  /** pino level (LOG_LEVELS). Default info. */
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
  /** Memory for finished results (observations and, half of it, their raw output), in MiB. Default 32. */
  maxResultsMb: number;
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
  maxResultsMb: 32,
  shellStartTimeoutSeconds: 15,
} as const;

/** pino's levels, most verbose first; `silent` logs nothing. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A --log-level value, or `fallback` when absent. */
export function logLevelOf(raw: string | undefined, fallback: LogLevel): LogLevel {
  if (raw === undefined) return fallback;
  if ((LOG_LEVELS as readonly string[]).includes(raw)) return raw as LogLevel;
  throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}; got ${JSON.stringify(raw)}`);
}

interface NumberRule {
  /** Whole numbers only. */
  integer?: boolean;
  /** The largest value taken (inclusive). */
  max?: number;
}

/** Seconds flags are Node timers: past 2^31-1 ms a timer fires at once. */
const SECONDS = { max: MAX_TIMEOUT_SECONDS } as const;

/**
 * Reads a positive number from the environment (unset or empty: `fallback`), with a usage error
 * naming the variable for anything else.
 */
export function envNumber(env: NodeJS.ProcessEnv, name: string, fallback: number, rule: NumberRule = {}): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  return positiveOf(name, raw, rule);
}

/** NO_CHANGE_TIMEOUT_SECONDS: seconds, at most MAX_TIMEOUT_SECONDS. */
export function envSeconds(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  return envNumber(env, name, fallback, SECONDS);
}

/** The bash to use when none is named: the image's own, else the static one the bundle ships; null when there is none. */
export function defaultShell(execPath = process.execPath): string | null {
  return shellCandidates(execPath).find((p) => existsSync(p)) ?? null;
}

/** Where defaultShell looks, in order: the image's bash, then beside the executable, or in ../bin when started through the bundled loader (lib/). */
export function shellCandidates(execPath = process.execPath): string[] {
  return ['/bin/bash', '/usr/bin/bash', join(dirname(execPath), 'bash'), join(dirname(dirname(execPath)), 'bin', 'bash')];
}

/** The port from RUNTIME_CLIENT_PORT (set by injected images) when set, else 60000. */
export function defaultPort(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.RUNTIME_CLIENT_PORT;
  if (raw === undefined || raw === '') return DEFAULTS.port;
  const port = integerOf(raw);
  if (port === null || port > 65535) throw new UsageError(`RUNTIME_CLIENT_PORT must be an integer from 0 to 65535, got ${JSON.stringify(raw)}`);
  return port;
}

/** A --port value: an integer from 0 to 65535, or `fallback` when absent. */
export function portOf(raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const port = integerOf(raw);
  if (port === null || port > 65535) throw new UsageError(`--port must be an integer from 0 to 65535, got ${JSON.stringify(raw)}`);
  return port;
}

/** A flag that takes a positive number (`integer`: a whole one), or `fallback` when absent. */
export function positiveFlag(name: string, raw: string | undefined, fallback: number, integer = false): number {
  if (raw === undefined) return fallback;
  return positiveOf(`--${name}`, raw, { integer });
}

/** A flag that takes seconds: a positive number up to MAX_TIMEOUT_SECONDS, or `fallback` when absent. */
export function secondsFlag(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  return positiveOf(`--${name}`, raw, SECONDS);
}

/** `raw` as a positive decimal number under `rule`; a usage error naming `what` otherwise. */
function positiveOf(what: string, raw: string, rule: NumberRule): number {
  const text = raw.trim();
  const value = /^(\d+\.?\d*|\.\d+)$/.test(text) ? Number(text) : NaN;
  const kind = rule.integer ? 'integer' : 'number';
  if (!Number.isFinite(value) || value <= 0 || (rule.integer && !Number.isInteger(value))) {
    throw new UsageError(`${what} must be a positive ${kind}${rule.max ? ` up to ${rule.max}` : ''}, got ${JSON.stringify(raw)}`);
  }
  if (rule.max !== undefined && value > rule.max) throw new UsageError(`${what} must be at most ${rule.max}, got ${JSON.stringify(raw)}`);
  return value;
}

/** A whole decimal number (digits only), or null. */
function integerOf(raw: string): number | null {
  const text = raw.trim();
  return /^\d+$/.test(text) ? Number(text) : null;
}
