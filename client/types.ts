// The client's public shapes. Wire types come from protocol/ (zod-inferred), never redefined here.
import type { ActionInput, Observation } from '../protocol/index.js';

export type { ActionInput, Observation };

export interface RuntimeClientOptions {
  /** Base URL of the server, e.g. http://127.0.0.1:60000. */
  url: string;
  /** Sent as X-Session-API-Key. */
  apiKey?: string;
  /** Timeout of calls that are not actions (alive, server_info), in ms. Default 10000. */
  timeoutMs?: number;
  /** Retries of a failed call (network error, 502/503/504). Default 5. */
  retries?: number;
  /** First backoff delay, in ms, doubled each retry up to maxBackoffMs. Default 100. */
  backoffMs?: number;
  /** Longest backoff delay, in ms. Default 5000. */
  maxBackoffMs?: number;
}

export interface RunOptions {
  /** Named session. Default "default". */
  session?: string;
  /** Hard timeout in seconds (the command keeps running after it). Default: none. */
  timeoutSeconds?: number;
  /** Wait for completion: no soft timeout. Default false. */
  blocking?: boolean;
  /** Action id; default a random UUID. Reusing an id replays the recorded result. */
  id?: string;
}

/** A finished (or timed-out) `run`, as data: a non-zero exit code is not an exception. */
export interface CommandResult {
  exitCode: number;
  output: string;
  /** True when the command is still running (soft or hard timeout). */
  timedOut: boolean;
  cwd: string | null;
  durationMs: number;
  truncated: boolean;
  /** The raw observation. */
  observation: Observation;
}
