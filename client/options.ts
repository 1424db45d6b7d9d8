// RuntimeClient options: defaults filled in, each checked with a TypeError naming it.
import type { RuntimeClientOptions } from './types.js';

export interface ResolvedOptions {
  url: URL;
  timeoutMs: number;
  retries: number;
  backoffMs: number;
  maxBackoffMs: number;
  timeoutMarginMs: number;
  defaultActionTimeoutMs: number;
}

/** The defaults documented on RuntimeClientOptions. */
export const DEFAULTS = {
  timeoutMs: 10_000,
  retries: 5,
  backoffMs: 100,
  maxBackoffMs: 5_000,
  timeoutMarginMs: 30_000,
  defaultActionTimeoutMs: 120_000,
} as const;

export function resolveOptions(options: RuntimeClientOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object') throw new TypeError('RuntimeClient options must be an object with a url');
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw new TypeError(`options.url must be an http: or https: URL, got ${JSON.stringify(options.url)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`options.url must be an http: or https: URL, got ${JSON.stringify(options.url)}`);
  }
  if (options.apiKey !== undefined && typeof options.apiKey !== 'string') throw new TypeError('options.apiKey must be a string');
  const number = (name: keyof typeof DEFAULTS, integer = false): number => {
    const value = options[name] ?? DEFAULTS[name];
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (integer && !Number.isInteger(value))) {
      throw new TypeError(`options.${name} must be a ${integer ? 'non-negative integer' : 'non-negative number'}, got ${JSON.stringify(value)}`);
    }
    return value;
  };
  return {
    url,
    timeoutMs: number('timeoutMs'),
    retries: number('retries', true),
    backoffMs: number('backoffMs'),
    maxBackoffMs: number('maxBackoffMs'),
    timeoutMarginMs: number('timeoutMarginMs'),
    defaultActionTimeoutMs: number('defaultActionTimeoutMs'),
  };
}
