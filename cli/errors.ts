// The CLI's one error: a mistake in how a command was called (exit 2, pointing at --help).
export class UsageError extends Error {
  readonly code = 'usage';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A --port value: an integer from 0 to 65535, or `fallback` when absent. */
export function portOf(raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const port = /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!(port <= 65535)) throw new UsageError(`--port must be an integer from 0 to 65535, got ${JSON.stringify(raw)}`);
  return port;
}
