// From a `run` observation to a CommandResult: the exit code, cwd and output as data.
import type { Observation } from '@runtime-client/protocol';
import { RuntimeError } from './errors.js';
import type { CommandResult } from './types.js';

/** PROTOCOL.md: the suffix of a command refused because the session is busy. */
const REFUSED = 'The previous command is still running';

/**
 * A run observation as a result; a non-zero exit code is data. An error observation (e.g. "no
 * previous running command"), any other kind, or a command refused because the session still runs
 * an earlier one means no command result exists: RuntimeError 'bad_action', the observation as data.
 */
export function toCommandResult(observation: Observation, durationMs: number): CommandResult {
  if (observation.observation !== 'run') {
    throw new RuntimeError('bad_action', observation.content || `the server answered a ${observation.observation} observation`, observation);
  }
  const { exit_code: exitCode, working_dir: cwd, suffix } = observation.extras.metadata;
  if (exitCode === -1 && suffix.includes(REFUSED)) {
    throw new RuntimeError(
      'bad_action',
      'the command was not run: the session is still running an earlier command (send input with is_input, or C-c, first)',
      observation,
    );
  }
  return {
    exitCode,
    output: observation.content,
    timedOut: exitCode === -1,
    cwd,
    durationMs,
    truncated: observation.extras.full_output_path !== undefined,
    observation,
  };
}
