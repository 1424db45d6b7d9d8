// A start request's limits, checked against the service's bounds: resources (cpus/memory_mb, or
// resource_factor x the base), the TTL and the idle timeout. A value out of bounds is refused with
// bad_request naming the request's field (as it is spelled on the wire), before anything is made.
import { LifecycleError, type LifecycleOptions, type StartParams } from './api.js';

export interface Limits {
  cpus: number;
  memoryMb: number;
  ttlSeconds: number;
  idleTimeoutSeconds: number;
}

function positive(value: number | undefined, field: string, integer: boolean): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new LifecycleError('bad_request', `${field} must be a positive ${integer ? 'integer' : 'number'} (got ${JSON.stringify(value)})`, field);
  }
  return value;
}

/** The limits a start gets; throws LifecycleError bad_request naming the field at fault. */
export function resolveLimits(params: StartParams, options: LifecycleOptions): Limits {
  const factor = positive(params.resourceFactor, 'resource_factor', false) ?? 1;
  const askedCpus = positive(params.cpus, 'cpus', false);
  const askedMemory = positive(params.memoryMb, 'memory_mb', true);
  const cpus = askedCpus ?? round(factor * options.baseCpus, 100);
  const memoryMb = askedMemory ?? Math.round(factor * options.baseMemoryMb);
  const cpusField = askedCpus === undefined ? 'resource_factor' : 'cpus';
  const memoryField = askedMemory === undefined ? 'resource_factor' : 'memory_mb';
  if (cpus > options.maxCpus) {
    throw new LifecycleError('bad_request', `${cpusField} asks for ${cpus} CPUs; at most ${options.maxCpus} (--max-cpus) are allowed`, cpusField);
  }
  if (memoryMb > options.maxMemoryMb) {
    throw new LifecycleError('bad_request', `${memoryField} asks for ${memoryMb} MB of memory; at most ${options.maxMemoryMb} MB (--max-memory-mb) are allowed`, memoryField);
  }
  if (memoryMb < 6) throw new LifecycleError('bad_request', `${memoryField} gives ${memoryMb} MB of memory; a sandbox needs at least 6 MB`, memoryField);
  if (cpus < 0.01) throw new LifecycleError('bad_request', `${cpusField} gives ${cpus} CPUs; a sandbox needs at least 0.01`, cpusField);
  const ttlSeconds = positive(params.ttlSeconds, 'ttl_seconds', true) ?? Math.min(options.defaultTtl, options.maxTtl);
  if (ttlSeconds > options.maxTtl) {
    throw new LifecycleError('bad_request', `ttl_seconds is ${ttlSeconds}; at most ${options.maxTtl} (--max-ttl) is allowed`, 'ttl_seconds');
  }
  const idleTimeoutSeconds = positive(params.idleTimeoutSeconds, 'idle_timeout_seconds', true) ?? options.idleTimeout;
  return { cpus, memoryMb, ttlSeconds, idleTimeoutSeconds };
}

/** A renewal's TTL, bounded by --max-ttl. */
export function checkTtl(ttlSeconds: number, options: LifecycleOptions): number {
  const ttl = positive(ttlSeconds, 'ttl_seconds', true)!;
  if (ttl === undefined) throw new LifecycleError('bad_request', 'ttl_seconds is required', 'ttl_seconds');
  if (ttl > options.maxTtl) throw new LifecycleError('bad_request', `ttl_seconds is ${ttl}; at most ${options.maxTtl} (--max-ttl) is allowed`, 'ttl_seconds');
  return ttl;
}

function round(value: number, per: number): number {
  return Math.round(value * per) / per;
}
