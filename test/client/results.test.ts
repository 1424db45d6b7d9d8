// toCommandResult reads what the server says as fields (meta), never the suffix's sentence (issue 11).
import { describe, expect, it } from 'vitest';
import type { RunObservation } from '../../protocol/index.js';
import { RuntimeError } from '../../client/index.js';
import { toCommandResult } from '../../client/results.js';

const REFUSAL = '\n[Your command "x" is NOT executed. The previous command is still running - You CANNOT send new commands until the previous command is completed.]';

function run(exitCode: number, suffix: string, meta?: RunObservation['meta']): RunObservation {
  return {
    observation: 'run',
    content: 'out\n',
    extras: {
      command: 'x',
      hidden: false,
      metadata: { exit_code: exitCode, pid: 7, username: 'u', hostname: 'h', working_dir: '/w', py_interpreter_path: null, prefix: '', suffix },
    },
    success: exitCode === 0,
    ...(meta ? { meta } : {}),
  };
}

describe('toCommandResult', () => {
  it("meta.refused: 'bad_action' with the observation as data, whatever the suffix says", () => {
    const observation = run(-1, '', { still_running: true, refused: true });
    const error = (() => {
      try {
        return toCommandResult(observation, 5);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(RuntimeError);
    expect(error).toMatchObject({ code: 'bad_action', data: observation, message: expect.stringContaining('still running an earlier command') });
  });

  it('the refusal sentence without meta.refused is a result, not a refusal', () => {
    expect(toCommandResult(run(-1, REFUSAL, { still_running: true, refused: false }), 5)).toMatchObject({ exitCode: -1, timedOut: true });
  });

  it('timedOut is meta.still_running', () => {
    expect(toCommandResult(run(-1, '\n[The command timed out after 1 seconds.]', { still_running: true, refused: false }), 5).timedOut).toBe(true);
    expect(toCommandResult(run(0, '', { still_running: false, refused: false }), 5)).toMatchObject({ exitCode: 0, timedOut: false, cwd: '/w', output: 'out\n' });
  });

  it('an observation without meta (an OpenHands server) is still running when its exit code is -1', () => {
    expect(toCommandResult(run(-1, '\n[The command timed out after 1 seconds.]'), 5).timedOut).toBe(true);
    expect(toCommandResult(run(2, '\n[The command completed with exit code 2.]'), 5).timedOut).toBe(false);
  });
});
