// The client's public shapes. Wire types come from protocol/ (zod-inferred), never redefined here.
import type { ActionInput, Observation } from '@runtime-client/protocol';

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
  /**
   * Added to an action's own timeout to give the client's wait for its observation, in ms: room
   * for the network and the server's bookkeeping. Default 30000.
   */
  timeoutMarginMs?: number;
  /**
   * How long the client waits (before the margin) for an action that has no timeout of its own
   * and is not blocking, in ms. The server answers such an action once its command has printed
   * nothing for NO_CHANGE_TIMEOUT_SECONDS (default 10 s); a command that keeps printing for longer
   * than this needs `timeout` or `blocking`. For a stream it counts from the last frame received.
   * Default 120000.
   */
  defaultActionTimeoutMs?: number;
}

export interface ExecuteOptions {
  /**
   * How long to wait for the observation before the margin, in ms. Default: the action's own
   * `timeout` (seconds) in ms; none at all for a blocking `run` (or `is_static`) without `timeout`;
   * otherwise `defaultActionTimeoutMs`. The client then waits this plus `timeoutMarginMs`, across
   * retries, and rejects with RuntimeError 'timeout'. The action itself is not changed.
   */
  timeoutMs?: number;
  /** Action id; default a random UUID. Sent again on every retry, so a retry never runs it twice. */
  id?: string;
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
  /** True when the command is still running (soft or hard timeout): the observation's `meta.still_running`. */
  timedOut: boolean;
  cwd: string | null;
  durationMs: number;
  truncated: boolean;
  /** The raw observation. */
  observation: Observation;
}

export interface IpythonOptions {
  /** Named session: its interpreter, and the bash cwd the cell runs in. Default "default". */
  session?: string;
  /** Hard timeout in seconds (the cell keeps running after it). Default: none. */
  timeoutSeconds?: number;
  /** Wait for completion: no soft timeout. Default false. */
  blocking?: boolean;
  /** Append OpenHands' "[Jupyter current working directory: ...]" lines to the output. Default false here. */
  includeExtra?: boolean;
  /** Action id; default a random UUID. Reusing an id replays the recorded result. */
  id?: string;
}

/** A finished (or timed-out) `run_ipython` cell, as data: a traceback is not an exception here. */
export interface CellResult {
  /** What the cell printed and the value of its last expression (a traceback included). */
  output: string;
  /** Figures the cell left open, as PNG `data:` URLs. */
  images: string[];
  /** The class name of the exception the cell raised, or null. */
  exception: string | null;
  /** True when the cell is still running (soft or hard timeout). */
  timedOut: boolean;
  /** The interpreter (sys.executable). */
  python: string | null;
  durationMs: number;
  truncated: boolean;
  /** The raw observation. */
  observation: Observation;
}

export interface WaitOptions {
  /** Give up after this long, in ms. Default 30000. */
  timeoutMs?: number;
  /** Pause between two probes of /alive, in ms. Default 100. */
  intervalMs?: number;
}

/** Output chunks a stream never received: the server dropped them from its window. */
export interface StreamGap {
  /** The action id. */
  id: string;
  /** First missing chunk's seq. */
  from: number;
  /** Seq of the first chunk after the gap (exclusive end). */
  to: number;
}

export interface StreamOptions extends ExecuteOptions {
  /**
   * Called when the server reports output chunks it no longer holds (after a long disconnection,
   * or a reader slower than the server's 8 MiB window); the stream then carries on. Without it,
   * the iterator throws RuntimeError 'disconnected' (data: a StreamGap) where the chunks are
   * missing; the observation still arrives.
   */
  onGap?: (gap: StreamGap) => void;
}

/**
 * A streamed action. Iterate it (once) for its raw output chunks, in order, each exactly once;
 * the iteration ends when the observation has arrived. Chunks are buffered until read.
 */
export interface StreamHandle extends AsyncIterable<string> {
  readonly id: string;
  /** Resolves with the observation; rejects with a RuntimeError (also thrown by the iterator). */
  readonly observation: Promise<Observation>;
  /** Types `text` plus Enter into the running command: an `is_input` run on the same session, over HTTP. */
  sendInput(text: string): Promise<Observation>;
  /** Sends C-c to the running command (`is_input` "C-c" on the same session, over HTTP). */
  interrupt(): Promise<Observation>;
  /**
   * Stops following the action (it keeps running on the server): the iteration ends and a pending
   * observation rejects with RuntimeError 'disconnected'.
   */
  close(): void;
}

/** GET /server_info and one named session (GET /sessions): the protocol's types (protocol/health.ts, protocol/sessions.ts). */
export type { ServerInfo, SessionInfo } from '@runtime-client/protocol';
