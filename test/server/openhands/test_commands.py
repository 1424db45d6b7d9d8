"""CmdRunAction through OpenHands' runtime client: what its agent sees of each command."""

import os

import pytest
from openhands.events.action import CmdRunAction
from openhands.events.observation import CmdOutputObservation

from conftest import last_raw

PREVIOUS = '[Below is the output of the previous command.]\n'

pytestmark = pytest.mark.usefixtures('idle_shell')


def lines(obs) -> list[str]:
    return obs.content.strip('\n').split('\n')


def test_plain_command_has_output_exit_code_and_cwd(send, workdir):
    obs = send(CmdRunAction('cd ' + workdir + ' && echo hi && pwd && (exit 3)'))
    assert isinstance(obs, CmdOutputObservation)
    assert obs.command == 'cd ' + workdir + ' && echo hi && pwd && (exit 3)'
    assert lines(obs) == ['hi', workdir]
    assert obs.exit_code == 3
    assert obs.error is True
    assert obs.metadata.working_dir == workdir
    assert obs.metadata.prefix == ''
    assert obs.metadata.suffix == '\n[The command completed with exit code 3.]'
    assert obs.metadata.pid > 0
    assert obs.metadata.username
    assert obs.hidden is False


def test_state_persists_between_commands(send, scratch):
    send(CmdRunAction(f'cd {scratch} && export OH_COMPAT=kept'))
    obs = send(CmdRunAction('echo $OH_COMPAT; pwd'))
    assert lines(obs) == ['kept', scratch]
    assert obs.exit_code == 0
    assert obs.metadata.working_dir == scratch


def test_blocking_command_with_timeout_waits_past_the_soft_timeout(send, soft_timeout):
    # set_hard_timeout(t) makes the action blocking: no soft timeout, only the hard one.
    obs = send(CmdRunAction(f'sleep {soft_timeout + 1}; echo done'), timeout=soft_timeout + 20)
    assert lines(obs) == ['done']
    assert obs.exit_code == 0
    assert obs.metadata.suffix == '\n[The command completed with exit code 0.]'


def test_hard_timeout_returns_and_leaves_the_command_running(send):
    obs = send(CmdRunAction('echo started; sleep 30; echo never'), timeout=1)
    assert lines(obs) == ['started']
    assert obs.exit_code == -1
    assert obs.metadata.suffix.startswith('\n[The command timed out after 1 seconds.')
    stop = send(CmdRunAction('C-c', is_input=True))
    assert stop.exit_code == 130
    assert stop.metadata.prefix == PREVIOUS
    assert stop.metadata.suffix == '\n[The command completed with exit code 130. CTRL+C was sent.]'
    assert 'never' not in stop.content


def test_soft_timeout_then_empty_command_for_more_output(send, soft_timeout):
    # The client's default path: set_hard_timeout(sandbox.timeout, blocking=False).
    obs = send(CmdRunAction(f'echo first; sleep {soft_timeout + 2}; echo second; sleep 60'))
    assert lines(obs) == ['first']
    assert obs.exit_code == -1
    assert obs.metadata.suffix.startswith(f'\n[The command has no new output after {soft_timeout} seconds.')
    more = send(CmdRunAction(''))
    assert isinstance(more, CmdOutputObservation)
    assert more.metadata.prefix == PREVIOUS
    assert lines(more) == ['second']
    assert more.exit_code == -1


def test_is_input_text_reaches_the_running_program(send):
    obs = send(CmdRunAction('read -r answer; echo "got $answer"'))
    assert obs.exit_code == -1
    typed = send(CmdRunAction('forty-two', is_input=True))
    assert typed.metadata.prefix == PREVIOUS
    assert 'got forty-two' in lines(typed)
    assert typed.exit_code == 0


def test_c_c_interrupts(send):
    send(CmdRunAction('sleep 60'))
    stop = send(CmdRunAction('C-c', is_input=True))
    assert stop.exit_code == 130
    assert stop.metadata.suffix.endswith('CTRL+C was sent.]')
    after = send(CmdRunAction('echo usable'))
    assert lines(after) == ['usable']
    assert after.exit_code == 0


def test_second_command_while_one_runs_is_not_run(send, scratch):
    marker = os.path.join(scratch, 'ran')
    send(CmdRunAction('echo busy; sleep 60'))
    obs = send(CmdRunAction(f'touch {marker}'))
    assert obs.exit_code == -1
    assert obs.metadata.prefix == PREVIOUS
    assert f'Your command "touch {marker}" is NOT executed.' in obs.metadata.suffix
    assert 'The previous command is still running' in obs.metadata.suffix
    assert not os.path.exists(marker)


def test_nothing_running(send):
    empty = send(CmdRunAction(''))
    assert 'ERROR: No previous running command to retrieve logs from.' in empty.content
    typed = send(CmdRunAction('hello', is_input=True))
    assert 'ERROR: No previous running command to interact with.' in typed.content


def test_is_static_runs_in_cwd_apart_from_the_session(send, scratch, workdir):
    send(CmdRunAction(f'cd {workdir}'))
    obs = send(CmdRunAction('pwd; cd /; export LEAK=1', is_static=True, cwd=scratch))
    assert lines(obs) == [scratch]
    assert obs.exit_code == 0
    assert obs.metadata.working_dir == '/'  # where the throwaway shell ended
    after = send(CmdRunAction('pwd; echo "[$LEAK]"'))
    assert lines(after) == [workdir, '[]']


def test_long_output_is_cut_and_the_whole_is_in_a_file_named_in_meta(send):
    obs = send(CmdRunAction('seq 1 20000'))
    assert obs.exit_code == 0
    assert obs.content.startswith('1\n2\n3\n')
    assert obs.content.rstrip('\n').endswith('19999\n20000')
    assert len(obs.content) < 40000
    # extras holds CmdOutputObservation's fields only (conftest checks it); the path is in meta.
    path = last_raw.get('meta', {}).get('full_output_path')
    assert path and path in obs.content
    with open(path) as f:
        assert f.read().split() == [str(i) for i in range(1, 20001)]
