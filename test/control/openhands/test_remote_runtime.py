"""OpenHands 1.6.0's own RemoteRuntime and RemoteRuntimeBuilder, pointed at `runtime-client api`.

openhands.test.ts starts the service and runs pytest with:
  RC_API_URL    the service's base URL
  RC_API_KEY    its X-API-Key
  RC_IMAGE      a local image (runtime_container_image: nothing is built for the runtime)
  RC_BASE_IMAGE the base of the small build context of the builder case
Nothing here is ours but the configuration: the code under test is OpenHands'.
"""

import asyncio
import io
import os
import tarfile
import uuid

import httpx
import pytest

os.environ.setdefault('LITELLM_LOCAL_MODEL_COST_MAP', 'True')

from openhands.core.config import OpenHandsConfig  # noqa: E402
from openhands.events import EventStream  # noqa: E402
from openhands.events.action import CmdRunAction, FileEditAction, FileReadAction, FileWriteAction  # noqa: E402
from openhands.events.action.files import FileEditSource  # noqa: E402
from openhands.events.observation import CmdOutputObservation, FileEditObservation, FileReadObservation, FileWriteObservation  # noqa: E402
from openhands.runtime.builder.remote import RemoteRuntimeBuilder  # noqa: E402
from openhands.runtime.impl.remote.remote_runtime import RemoteRuntime  # noqa: E402
from openhands.storage.memory import InMemoryFileStore  # noqa: E402

API_URL = os.environ['RC_API_URL']
API_KEY = os.environ['RC_API_KEY']
IMAGE = os.environ['RC_IMAGE']
BASE_IMAGE = os.environ.get('RC_BASE_IMAGE', IMAGE)


def config(keep_alive: bool, pause: bool) -> OpenHandsConfig:
    c = OpenHandsConfig()
    c.sandbox.remote_runtime_api_url = API_URL
    c.sandbox.api_key = API_KEY
    c.sandbox.runtime_container_image = IMAGE
    c.sandbox.keep_runtime_alive = keep_alive
    c.sandbox.pause_closed_runtimes = pause
    c.sandbox.timeout = 60
    c.sandbox.remote_runtime_init_timeout = 120
    # run_as_openhands stays True (the default): OpenHands asks for user `openhands`, uid 1000,
    # which the image lacks; the sandbox's server creates it.
    return c


def connect(sid: str, keep_alive: bool = True, pause: bool = True) -> RemoteRuntime:
    runtime = RemoteRuntime(config(keep_alive, pause), EventStream(sid, InMemoryFileStore()), None, sid=sid, headless_mode=True)
    asyncio.run(runtime.connect())
    return runtime


def run(runtime: RemoteRuntime, command: str) -> CmdOutputObservation:
    action = CmdRunAction(command)
    action.set_hard_timeout(60)
    obs = runtime.run_action(action)
    assert isinstance(obs, CmdOutputObservation), obs
    return obs


def api(method: str, path: str, **kwargs) -> httpx.Response:
    return httpx.request(method, API_URL + path, headers={'X-API-Key': API_KEY}, timeout=60, **kwargs)


def test_connect_work_pause_resume_and_stop():
    sid = 'oh-' + uuid.uuid4().hex[:12]
    runtime = connect(sid)
    try:
        who = run(runtime, 'id -un; id -u; pwd; touch /workspace/mine && echo written')
        assert who.content.split() == ['openhands', '1000', '/workspace', 'written'], who.content
        obs = run(runtime, 'cd /tmp && echo hello > kept.txt && export KEPT=yes && pwd')
        assert obs.exit_code == 0
        assert obs.metadata.working_dir == '/tmp'
        assert obs.content.strip().endswith('/tmp')
        assert run(runtime, "bash -c 'exit 3'").exit_code == 3

        write = FileWriteAction(path='/tmp/w.txt', content='one\ntwo\n')
        write.set_hard_timeout(60)
        assert isinstance(runtime.run_action(write), FileWriteObservation)
        read = FileReadAction(path='/tmp/w.txt')
        read.set_hard_timeout(60)
        got = runtime.run_action(read)
        assert isinstance(got, FileReadObservation) and got.content == 'one\ntwo\n'
        edit = FileEditAction(path='/tmp/w.txt', command='str_replace', old_str='two', new_str='TWO', impl_source=FileEditSource.OH_ACI)
        edit.set_hard_timeout(60)
        edited = runtime.run_action(edit)
        assert isinstance(edited, FileEditObservation), edited
        assert '-two' in edited.diff and '+TWO' in edited.diff
        runtime_id = runtime.runtime_id
    finally:
        runtime.close()  # keep_runtime_alive + pause_closed_runtimes: paused, not stopped

    info = api('GET', f'/runtime/{runtime_id}').json()
    assert info['status'] == 'paused'
    # The paused runtime's url answers 503 at once.
    paused = httpx.get(info['url'] + '/alive', timeout=5)
    assert paused.status_code == 503

    again = connect(sid)  # finds it paused, resumes it
    try:
        assert again.runtime_id == runtime_id
        obs = run(again, 'cat /tmp/kept.txt; echo "$KEPT"; pwd')
        assert obs.content.split() == ['hello', 'yes', '/tmp']
    finally:
        again.config.sandbox.keep_runtime_alive = False
        again.close()  # stops it
    assert api('GET', f'/runtime/{runtime_id}').json()['status'] == 'stopped'
    assert api('GET', f'/sessions/{sid}').json()['status'] == 'stopped'


def test_builder_builds_a_context_and_the_image_starts():
    tag = f'rc-test/oh-built:{uuid.uuid4().hex[:8]}'
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode='w:gz') as tar:
        dockerfile = f'FROM {BASE_IMAGE}\nLABEL built-by=openhands-remote-builder\nRUN echo built > /built.txt\n'.encode()
        info = tarfile.TarInfo('Dockerfile')
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
    path = os.path.join(os.environ.get('TMPDIR', '/tmp'), f'ctx-{uuid.uuid4().hex}')
    os.makedirs(path)
    with tarfile.open(fileobj=io.BytesIO(context.getvalue()), mode='r:gz') as tar:
        tar.extractall(path)
    with httpx.Client(headers={'X-API-Key': API_KEY}) as session:
        builder = RemoteRuntimeBuilder(API_URL, API_KEY, session)
        built = builder.build(path, [tag])
        assert built == tag or built.startswith(tag.split(':')[0])
        assert builder.image_exists(tag, pull_from_repo=False)
    start = api('POST', '/start', json={'image': tag, 'session_id': 'oh-built-' + uuid.uuid4().hex[:8]})
    assert start.status_code == 200, start.text
    body = start.json()
    try:
        out = httpx.post(body['url'] + '/execute_action', headers={'X-Session-API-Key': body['session_api_key']},
                         json={'action': {'action': 'run', 'args': {'command': 'cat /built.txt'}}}, timeout=60).json()
        assert out['content'] == 'built\n'
    finally:
        assert api('POST', '/stop', json={'runtime_id': body['runtime_id']}).status_code == 200
