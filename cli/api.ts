// `runtime-client api`: the runtime API service (RUNTIME-API.md) on one port, over a backend's
// driver and the lifecycle core of @runtime-client/control. The flags are parsed here (a mistake
// exits 2); the service itself is loaded only once they are good.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { UsageError, portOf } from './errors.js';
import { withFlags } from './flags.js';
import type { ApiServiceOptions } from '@runtime-client/control';

/** Every flag's default (seconds, counts, CPUs, MiB). */
export const API_DEFAULTS = {
  host: '127.0.0.1',
  port: 8000,
  backend: 'docker',
  defaultTtl: 3600,
  maxTtl: 86_400,
  idleTimeout: 900,
  pausedTtl: 86_400,
  maxRuntimes: 50,
  baseCpus: 1,
  baseMemoryMb: 2048,
  maxCpus: 8,
  maxMemoryMb: 16_384,
  maxBuildMb: 512,
  inject: 'mount',
  stateDir: join(homedir(), '.local/state/runtime-client/api'),
  logLevel: 'info',
} as const;

/** The backends `--backend` names. */
export const API_BACKENDS = ['docker'] as const;

/** How `--inject` puts runtime-client into sandboxes. */
export const API_INJECT_MODES = ['mount', 'image'] as const;

const D = API_DEFAULTS;
export const API_USAGE = `Usage: runtime-client api [--host ADDR] [--port N] [--backend NAME] [options]

Serves the runtime API (RUNTIME-API.md): starts, tracks, limits and reaps runtimes, and reaches
each one at <public url>/r/{runtime_id} (HTTP and WebSocket, one port). Every route but
GET /health needs the header X-API-Key. Logs are pino JSON lines on stdout. SIGINT or SIGTERM
stops the service and leaves the runtimes as they are (a restart finds them again).
  --host ADDR            listen address (default ${D.host}); anything but loopback needs a key
  --port N               listen port, 0 for any free one (default ${D.port})
  --backend NAME         where runtimes run: ${API_BACKENDS.join(', ')} (default ${D.backend})
  --default-ttl S        a runtime's lifetime when /start gives no ttl_seconds, in seconds
                         (default ${D.defaultTtl})
  --max-ttl S            the longest ttl_seconds /start and /renew accept, in seconds (default ${D.maxTtl})
  --idle-timeout S       no request through its url for this many seconds pauses a runtime
                         (default ${D.idleTimeout})
  --paused-ttl S         a runtime paused this many seconds is stopped (default ${D.pausedTtl})
  --max-runtimes N       runtimes running or paused at once; past it /start answers 429
                         (default ${D.maxRuntimes})
  --base-cpus N          CPUs of a runtime at resource_factor 1 (default ${D.baseCpus})
  --base-memory-mb N     memory of a runtime at resource_factor 1, in MiB (default ${D.baseMemoryMb})
  --max-cpus N           the most CPUs one runtime may ask for (default ${D.maxCpus})
  --max-memory-mb N      the most memory one runtime may ask for, in MiB (default ${D.maxMemoryMb})
  --warm IMAGE=N         keep N ready runtimes of IMAGE for /start to take, repeatable
                         (default: none)
  --state-dir DIR        where the service keeps its database (default ${D.stateDir.replace(homedir(), '~')})
  --public-url URL       where clients reach this service; runtime urls are URL/r/{runtime_id}
                         (default http://<host>:<port>)
  --api-key-file FILE    read the API key from FILE (default: $RUNTIME_API_KEY)
  --max-build-mb N       the largest /build upload, in MiB (default ${D.maxBuildMb})
  --inject MODE          how runtime-client gets into sandboxes: mount (the bundle bound
                         read-only, no build; the engine must see the bundle's directory) or image
                         (each base image's injected image, built once on the engine, nothing
                         bound: for an engine on another host) (default ${D.inject})
  --log-level LEVEL      fatal, error, warn, info, debug, trace or silent (default ${D.logLevel})
  -h, --help             this help

Environment:
  RUNTIME_API_KEY        the API key, unless --api-key-file is given (never logged)
`;

/** What the flags give: exactly the service's options. */
export type ApiFlags = ApiServiceOptions;

const OPTIONS = {
  host: { type: 'string' },
  port: { type: 'string' },
  backend: { type: 'string' },
  'default-ttl': { type: 'string' },
  'max-ttl': { type: 'string' },
  'idle-timeout': { type: 'string' },
  'paused-ttl': { type: 'string' },
  'max-runtimes': { type: 'string' },
  'base-cpus': { type: 'string' },
  'base-memory-mb': { type: 'string' },
  'max-cpus': { type: 'string' },
  'max-memory-mb': { type: 'string' },
  warm: { type: 'string', multiple: true },
  'state-dir': { type: 'string' },
  'public-url': { type: 'string' },
  'api-key-file': { type: 'string' },
  'max-build-mb': { type: 'string' },
  inject: { type: 'string' },
  'log-level': { type: 'string' },
} as const;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function apiCommand(argv: string[]): Promise<number> {
  return withFlags({ name: 'api', usage: API_USAGE, options: OPTIONS }, argv, async ({ values }) => serve(apiFlags(values, process.env)));
}

/** The flags' values checked and with their defaults; a UsageError naming the flag for a bad one. */
export function apiFlags(values: Partial<Record<keyof typeof OPTIONS, string | string[] | undefined>>, env: NodeJS.ProcessEnv): ApiFlags {
  const v = values as Record<string, string | undefined>;
  const backend = v.backend ?? D.backend;
  if (!(API_BACKENDS as readonly string[]).includes(backend)) throw new UsageError(`--backend ${JSON.stringify(backend)} is not one this service has (${API_BACKENDS.join(', ')})`);
  const inject = v.inject ?? D.inject;
  if (!(API_INJECT_MODES as readonly string[]).includes(inject)) throw new UsageError(`--inject must be one of ${API_INJECT_MODES.join(', ')}, got ${JSON.stringify(inject)}`);
  const logLevel = v['log-level'] ?? D.logLevel;
  if (!LOG_LEVELS.includes(logLevel)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`);
  const flags: ApiFlags = {
    host: v.host ?? D.host,
    port: portOf(v.port, D.port),
    backend: backend as ApiFlags['backend'],
    defaultTtl: count('--default-ttl', v['default-ttl'], D.defaultTtl),
    maxTtl: count('--max-ttl', v['max-ttl'], D.maxTtl),
    idleTimeout: count('--idle-timeout', v['idle-timeout'], D.idleTimeout),
    pausedTtl: count('--paused-ttl', v['paused-ttl'], D.pausedTtl),
    maxRuntimes: count('--max-runtimes', v['max-runtimes'], D.maxRuntimes),
    baseCpus: amount('--base-cpus', v['base-cpus'], D.baseCpus),
    baseMemoryMb: count('--base-memory-mb', v['base-memory-mb'], D.baseMemoryMb),
    maxCpus: amount('--max-cpus', v['max-cpus'], D.maxCpus),
    maxMemoryMb: count('--max-memory-mb', v['max-memory-mb'], D.maxMemoryMb),
    warm: warmOf((values.warm as string[] | undefined) ?? []),
    stateDir: resolve(v['state-dir'] ?? D.stateDir),
    publicUrl: publicUrlOf(v['public-url']),
    apiKey: keyOf(v['api-key-file'], env),
    maxBuildMb: count('--max-build-mb', v['max-build-mb'], D.maxBuildMb),
    logLevel,
    inject: inject as ApiFlags['inject'],
  };
  if (flags.defaultTtl > flags.maxTtl) throw new UsageError(`--default-ttl (${flags.defaultTtl}) is longer than --max-ttl (${flags.maxTtl})`);
  if (flags.baseCpus > flags.maxCpus) throw new UsageError(`--base-cpus (${flags.baseCpus}) is more than --max-cpus (${flags.maxCpus})`);
  if (flags.baseMemoryMb > flags.maxMemoryMb) throw new UsageError(`--base-memory-mb (${flags.baseMemoryMb}) is more than --max-memory-mb (${flags.maxMemoryMb})`);
  const warmTotal = Object.values(flags.warm).reduce((a, b) => a + b, 0);
  if (warmTotal > flags.maxRuntimes) throw new UsageError(`--warm asks for ${warmTotal} runtimes, more than --max-runtimes (${flags.maxRuntimes})`);
  return flags;
}

/** A whole number of at least 1. */
function count(flag: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 1) || !Number.isSafeInteger(n)) throw new UsageError(`${flag} must be a whole number of at least 1, got ${JSON.stringify(raw)}`);
  return n;
}

/** A positive number, fractions allowed (CPUs). */
function amount(flag: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = /^\s*(\d+(\.\d+)?|\.\d+)\s*$/.test(raw) ? Number(raw) : NaN;
  if (!(n > 0)) throw new UsageError(`${flag} must be a number above 0, got ${JSON.stringify(raw)}`);
  return n;
}

function warmOf(entries: string[]): Record<string, number> {
  const warm: Record<string, number> = {};
  for (const entry of entries) {
    const m = /^(.+)=(\d+)$/.exec(entry);
    if (!m || !m[1].trim()) throw new UsageError(`--warm takes IMAGE=N (N a whole number), got ${JSON.stringify(entry)}`);
    warm[m[1].trim()] = (warm[m[1].trim()] ?? 0) + Number(m[2]);
  }
  return warm;
}

function publicUrlOf(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--public-url must be an http(s) URL, got ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--public-url must be an http(s) URL, got ${JSON.stringify(raw)}`);
  if (url.search || url.hash) throw new UsageError(`--public-url takes no query or fragment, got ${JSON.stringify(raw)}`);
  return raw.replace(/\/+$/, '');
}

/** The key from --api-key-file (its first line), else $RUNTIME_API_KEY, else none. */
function keyOf(file: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new UsageError(`--api-key-file ${JSON.stringify(file)} cannot be read: ${(e as Error).message}`);
    }
    const key = text.split(/\r?\n/)[0].trim();
    if (!key) throw new UsageError(`--api-key-file ${JSON.stringify(file)} is empty`);
    return key;
  }
  return env.RUNTIME_API_KEY?.trim() || undefined;
}

/** Runs the service until SIGINT or SIGTERM; resolves with the exit code. */
async function serve(flags: ApiFlags): Promise<number> {
  const { runApiService, ApiConfigError } = await import('@runtime-client/control');
  try {
    return await runApiService(flags);
  } catch (e) {
    if (e instanceof ApiConfigError) throw new UsageError(e.message);
    throw e;
  }
}
