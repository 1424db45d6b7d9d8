"""OpenHands 1.6.0's own runtime client, pointed at a running runtime-client server.

compat.test.ts starts the server and runs pytest with:
  RC_URL        the server's base URL (http://127.0.0.1:PORT)
  RC_KEY        its session API key
  RC_WORKDIR    its --working-dir (where the default session starts)
  RC_SOFT_TIMEOUT  its NO_CHANGE_TIMEOUT_SECONDS
Every answer goes through OpenHands' send_action_for_execution, which parses it with
observation_from_dict: what the tests check is the object OpenHands builds, field by field.
"""

import inspect
import os
import shutil
import tempfile

import pytest

os.environ.setdefault('LITELLM_LOCAL_MODEL_COST_MAP', 'True')

from openhands.core.config import OpenHandsConfig  # noqa: E402
from openhands.events import EventStream  # noqa: E402
from openhands.events.action import CmdRunAction  # noqa: E402
from openhands.events.observation import CmdOutputObservation  # noqa: E402
from openhands.events.serialization.observation import OBSERVATION_TYPE_TO_CLASS  # noqa: E402
from openhands.runtime.impl.action_execution import action_execution_client  # noqa: E402
from openhands.runtime.impl.action_execution.action_execution_client import ActionExecutionClient  # noqa: E402
from openhands.storage.memory import InMemoryFileStore  # noqa: E402


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f'{name} is not set: run this suite through test/server/openhands/compat.test.ts')
    return value


class RuntimeClientRuntime(ActionExecutionClient):
    """The smallest ActionExecutionClient for a server that is already running: its URL, its key."""

    def __init__(self, url: str, key: str, config: OpenHandsConfig):
        self._url = url
        super().__init__(config, EventStream('compat', InMemoryFileStore()), None, headless_mode=True)
        self.session.headers.update({'X-Session-API-Key': key})

    @property
    def action_execution_server_url(self) -> str:
        return self._url

    async def connect(self) -> None:
        pass


def _parameters(cls) -> set[str]:
    return {p.name for p in inspect.signature(cls.__init__).parameters.values() if p.kind is p.POSITIONAL_OR_KEYWORD}


_parse = action_execution_client.observation_from_dict
#: The last answer as it came over the wire, before OpenHands parsed it.
last_raw: dict = {}


def _checked_parse(raw: dict):
    """OpenHands' own parser, after checking that extras holds only fields of the class it builds.

    CmdOutputObservation takes **kwargs and would drop an unknown key silently; the other classes
    raise TypeError. Either way a key beyond the class belongs in the top-level `meta`.
    """
    last_raw.clear()
    last_raw.update(raw)
    cls = OBSERVATION_TYPE_TO_CLASS[raw['observation']]
    unknown = set(raw.get('extras', {})) - _parameters(cls)
    assert not unknown, f'extras keys {sorted(unknown)} are not fields of {cls.__name__}: {raw}'
    return _parse(raw)


action_execution_client.observation_from_dict = _checked_parse


@pytest.fixture(scope='session')
def runtime() -> RuntimeClientRuntime:
    rt = RuntimeClientRuntime(_env('RC_URL'), _env('RC_KEY'), OpenHandsConfig())
    rt.check_if_alive()
    return rt


@pytest.fixture(scope='session')
def workdir() -> str:
    return os.path.realpath(_env('RC_WORKDIR'))


@pytest.fixture(scope='session')
def soft_timeout() -> int:
    return int(_env('RC_SOFT_TIMEOUT'))


@pytest.fixture()
def send(runtime):
    """Sends an action the way OpenHands' runtime does and returns the observation it built."""

    def go(action, timeout: float | None = None, blocking: bool | None = None):
        if timeout is not None:
            action.set_hard_timeout(timeout, **({} if blocking is None else {'blocking': blocking}))
        return runtime.send_action_for_execution(action)

    return go


@pytest.fixture()
def scratch():
    """A fresh directory, with its real path (macOS-style /tmp links would not match the server's)."""
    path = os.path.realpath(tempfile.mkdtemp(prefix='oh-compat-'))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture()
def idle_shell(send, workdir):
    """Leaves the default session with nothing running, in the working dir, whatever the test did."""
    yield
    obs = send(CmdRunAction('C-c', is_input=True), timeout=10)
    if isinstance(obs, CmdOutputObservation) and obs.metadata.exit_code == -1:
        send(CmdRunAction('C-c', is_input=True), timeout=10)
    send(CmdRunAction(f'cd {workdir}'), timeout=10)
