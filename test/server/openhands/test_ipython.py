"""IPythonRunCellAction through OpenHands' client, to OpenHands' expectations (its Jupyter plugin)
and PROTOCOL.md: the value of the last expression, what the cell printed, tracebacks as content,
state kept between cells, and with include_extra the bash cwd and the interpreter."""

import os
import re

from openhands.events.action import CmdRunAction, IPythonRunCellAction
from openhands.events.observation import IPythonRunCellObservation


def cell(send, code, **kwargs):
    obs = send(IPythonRunCellAction(code=code, **kwargs))
    assert isinstance(obs, IPythonRunCellObservation), f'{code!r}: {obs}'
    assert obs.code == code
    return obs


def body(obs) -> str:
    """The content without the include_extra lines."""
    return re.sub(r'\n?\[Jupyter (current working directory|Python interpreter): [^\]]*\]', '', obs.content).strip('\n')


def test_value_of_the_last_expression(send):
    obs = cell(send, '1+1', include_extra=False)
    assert obs.content.strip() == '2'
    assert not obs.image_urls


def test_variables_and_imports_persist(send):
    cell(send, 'import math\nx = 20', include_extra=False)
    obs = cell(send, 'x + math.floor(2.5)', include_extra=False)
    assert obs.content.strip() == '22'


def test_print(send):
    obs = cell(send, 'for i in range(3):\n    print("row", i)', include_extra=False)
    assert obs.content.strip() == 'row 0\nrow 1\nrow 2'


def test_traceback_is_content(send):
    obs = cell(send, 'def f():\n    return 1 / 0\nf()', include_extra=False)
    assert 'ZeroDivisionError' in obs.content
    assert 'Traceback' in obs.content or 'division by zero' in obs.content
    after = cell(send, '"still here"', include_extra=False)
    assert after.content.strip() == "'still here'"


def test_include_extra_and_the_bash_cwd(send, scratch, workdir):
    send(CmdRunAction(f'cd {scratch}'))
    try:
        obs = cell(send, 'import os\nprint(os.getcwd())')
        assert body(obs) == scratch
        assert f'[Jupyter current working directory: {scratch}]' in obs.content
        interpreter = re.search(r'\[Jupyter Python interpreter: ([^\]]+)\]', obs.content)
        assert interpreter and os.path.isabs(interpreter.group(1))
    finally:
        send(CmdRunAction(f'cd {workdir}'))
