"""FileReadAction (default) and FileWriteAction through OpenHands' client.

A difference on purpose: OpenHands' server wrote content.split('\\n') with a line break after
each piece, so "a\\n" became "a\\n\\n"; ours writes the content as given.
"""

import base64
import os

from openhands.events.action import FileReadAction, FileWriteAction
from openhands.events.action.files import FileReadSource
from openhands.events.observation import ErrorObservation, FileReadObservation, FileWriteObservation

from conftest import last_raw

PNG = base64.b64decode(
    'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=='
)


def write(path, data):
    with open(path, 'wb') as f:
        f.write(data.encode() if isinstance(data, str) else data)


def test_read_whole_file(send, scratch):
    path = os.path.join(scratch, 'ten.txt')
    write(path, ''.join(f'line {i}\n' for i in range(10)))
    obs = send(FileReadAction(path=path))
    assert isinstance(obs, FileReadObservation)
    assert obs.path == path
    assert obs.impl_source == FileReadSource.DEFAULT
    assert obs.content == ''.join(f'line {i}\n' for i in range(10))
    # What OpenHands' class has no field for travels in meta, beside extras.
    assert set(last_raw['extras']) == {'path', 'impl_source'}
    assert last_raw['meta']['total_lines'] == 10


def test_read_line_range(send, scratch):
    path = os.path.join(scratch, 'ten.txt')
    write(path, ''.join(f'line {i}\n' for i in range(10)))
    obs = send(FileReadAction(path=path, start=2, end=5))
    assert isinstance(obs, FileReadObservation)
    assert obs.content == 'line 2\nline 3\nline 4\n'
    tail = send(FileReadAction(path=path, start=8))
    assert tail.content == 'line 8\nline 9\n'


def test_read_relative_path_against_the_session_cwd(send, workdir):
    name = 'oh-compat-read.txt'
    write(os.path.join(workdir, name), 'here\n')
    try:
        obs = send(FileReadAction(path=name))
        assert isinstance(obs, FileReadObservation)
        assert obs.content == 'here\n'
        assert obs.path == os.path.join(workdir, name)
    finally:
        os.unlink(os.path.join(workdir, name))


def test_read_missing_file(send, scratch):
    path = os.path.join(scratch, 'missing.txt')
    obs = send(FileReadAction(path=path))
    assert isinstance(obs, ErrorObservation)
    assert obs.error_id == 'ERROR_FILE_NOT_FOUND'
    assert path in obs.content


def test_read_binary_file(send, scratch):
    path = os.path.join(scratch, 'data.bin')
    write(path, b'\x00\x01\x02\x03' * 64)
    obs = send(FileReadAction(path=path))
    assert isinstance(obs, ErrorObservation)
    assert obs.error_id == 'ERROR_BINARY_FILE'


def test_read_image_as_data_url(send, scratch):
    path = os.path.join(scratch, 'dot.png')
    write(path, PNG)
    obs = send(FileReadAction(path=path))
    assert isinstance(obs, FileReadObservation)
    prefix = 'data:image/png;base64,'
    assert obs.content.startswith(prefix)
    assert base64.b64decode(obs.content[len(prefix):]) == PNG


def test_read_image_with_oh_aci_is_the_editors_binary_refusal(send, scratch):
    # OpenHands' server answered ERROR_BINARY_FILE for any binary file before the editor saw it.
    path = os.path.join(scratch, 'dot.png')
    write(path, PNG)
    obs = send(FileReadAction(path=path, impl_source=FileReadSource.OH_ACI))
    assert isinstance(obs, ErrorObservation)
    assert obs.error_id == 'ERROR_BINARY_FILE'


def test_write_new_file_with_parents(send, scratch):
    path = os.path.join(scratch, 'new', 'dir', 'out.txt')
    obs = send(FileWriteAction(path=path, content='a\nb\n'))
    assert isinstance(obs, FileWriteObservation)
    assert obs.path == path
    assert obs.content == ''
    with open(path) as f:
        assert f.read() == 'a\nb\n'
    assert os.stat(path).st_mode & 0o777 == 0o664


def test_write_line_range_of_existing_file(send, scratch):
    path = os.path.join(scratch, 'lines.txt')
    write(path, 'one\ntwo\nthree\n')
    os.chmod(path, 0o640)
    obs = send(FileWriteAction(path=path, content='TWO', start=1, end=2))
    assert isinstance(obs, FileWriteObservation)
    with open(path) as f:
        assert f.read() == 'one\nTWO\nthree\n'
    assert os.stat(path).st_mode & 0o777 == 0o640


def test_write_to_a_directory_is_an_error(send, scratch):
    obs = send(FileWriteAction(path=scratch, content='x'))
    assert isinstance(obs, ErrorObservation)
    assert obs.error_id == 'ERROR_IS_DIRECTORY'


def test_read_pdf_as_data_url(send, scratch):
    # OpenHands' server answered a .pdf with its bytes as a data: URL.
    path = os.path.join(scratch, 'doc.pdf')
    data = b'%PDF-1.4\n\x00\xff\xfe binary body\n%%EOF\n'
    write(path, data)
    obs = send(FileReadAction(path=path))
    assert isinstance(obs, FileReadObservation)
    assert obs.content == 'data:application/pdf;base64,' + base64.b64encode(data).decode()
