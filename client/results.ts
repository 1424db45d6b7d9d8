// From a `run` observation to a CommandResult: the exit code, cwd and output as data.
import type { Observation } from '@runtime-client/protocol';
import { RuntimeError } from './errors.js';
import type { CellResult, CommandResult } from './types.js';

/**
 * A run observation as a result; a non-zero exit code is data. An error observation (e.g. "no
 * previous running command"), any other kind, or a command refused because the session still runs
 * an earlier one (`meta.refused`) means no command result exists: RuntimeError 'bad_action', the
 * observation as data.
 */
export function toCommandResult(observation: Observation, durationMs: number): CommandResult {
  if (observation.observation !== 'run') {
    throw new RuntimeError('bad_action', observation.content || `the server answered a ${observation.observation} observation`, observation);
  }
  const { exit_code: exitCode, working_dir: cwd } = observation.extras.metadata;
  if (observation.meta?.refused) {
    throw new RuntimeError(
      'bad_action',
      'the command was not run: the session is still running an earlier command (send input with is_input, or C-c, first)',
      observation,
    );
  }
  return {
    exitCode,
    output: observation.content,
    // A server without `meta` (before it existed) says the same with exit code -1.
    timedOut: observation.meta?.still_running ?? exitCode === -1,
    cwd,
    durationMs,
    truncated: observation.meta?.full_output_path !== undefined,
    observation,
  };
}

/**
 * A run_ipython observation as a result: a traceback is data (`exception` names it). An error
 * observation (no Python in the image, a refused cell, no running cell) rejects with RuntimeError
 * 'bad_action', the observation as data.
 */
export function toCellResult(observation: Observation, durationMs: number): CellResult {
  if (observation.observation !== 'run_ipython') {
    throw new RuntimeError('bad_action', observation.content || `the server answered a ${observation.observation} observation`, observation);
  }
  if (observation.meta?.refused) {
    throw new RuntimeError('bad_action', 'the cell was not run: the session is still running an earlier cell (send "" for its output, or "C-c", first)', observation);
  }
  return {
    output: observation.content,
    images: observation.extras.image_urls ?? [],
    exception: observation.meta?.exception ?? null,
    timedOut: observation.meta?.still_running ?? false,
    python: observation.meta?.python ?? null,
    durationMs,
    truncated: observation.meta?.full_output_path !== undefined,
    observation,
  };
}
