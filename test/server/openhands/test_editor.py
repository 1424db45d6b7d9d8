"""The editor through OpenHands' client, judged against OpenHands' own editor.

FileEditAction (impl_source oh_aci) and FileReadAction (oh_aci, view_range: the agent's `view`)
go to the server; the same command runs through openhands_aci's OHEditor (what OpenHands' own
server ran) on an identical file at the same path, and the two answers are compared.

Differences on purpose (asserted as such below):
- OpenHands' server answered an editor failure as a FileEditObservation (or FileReadObservation)
  whose content is "ERROR:\\n" + the editor's sentence; ours is an ErrorObservation (PROTOCOL.md:
  failures are error observations) whose content is the editor's sentence itself and whose
  error_id names the failure.
- Its FileEditObservation carried old_content/new_content = the action's old_str/new_str and
  prev_exist always False; ours carry the file before and after, and whether it existed.
- Undoing a `create` removes the file (the editor keeps the created text as its first version).
- `create` makes missing parent directories (the editor fails to write there).
"""

import os
import shutil

import pytest
from openhands.events.action import FileEditAction, FileReadAction
from openhands.events.action.files import FileEditSource, FileReadSource
from openhands.events.observation import ErrorObservation, FileEditObservation, FileReadObservation
from openhands_aci.editor import OHEditor
from openhands_aci.editor.exceptions import ToolError
from openhands_aci.utils.diff import get_diff

ACI = FileEditSource.OH_ACI


class Theirs:
    """OHEditor as OpenHands' server ran it: (ok, content, old, new) of one command."""

    def __init__(self, workspace: str):
        self.editor = OHEditor(workspace_root=workspace)

    def __call__(self, **kwargs):
        try:
            result = self.editor(enable_linting=False, **kwargs)
        except ToolError as e:
            return False, e.message, None, None
        if result.error:
            return False, result.error, None, None
        return True, result.output, result.old_content, result.new_content


def edit(send, **kwargs):
    return send(FileEditAction(impl_source=ACI, **kwargs))


def view(send, path, view_range=None):
    return send(FileReadAction(path=path, impl_source=FileReadSource.OH_ACI, view_range=view_range))


def reset(files: dict[str, str | bytes | None]):
    """Puts each path back as given (None: absent)."""
    for path, content in files.items():
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        elif os.path.lexists(path):
            os.unlink(path)
        if content is None:
            continue
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'wb') as f:
            f.write(content.encode() if isinstance(content, str) else content)


def differential(send, workspace, files, steps):
    """Runs `steps` (editor kwargs) through OHEditor, then from the same files through the server.

    Returns [(theirs, ours)] per step, after checking every step answers alike: the same content
    for a success (and the same file afterwards, and get_diff's diff), the same sentence for a failure.
    """
    reset(files)
    theirs_editor = Theirs(workspace)
    expected = []
    for step in steps:
        expected.append((theirs_editor(**step), {p: read_or_none(p) for p in files}))
    reset(files)
    pairs = []
    for step, ((ok, content, old, new), after) in zip(steps, expected):
        if step['command'] == 'view' and 'view_range' in step:
            obs = view(send, step['path'], step['view_range'])
        else:
            obs = edit(send, **{k: v for k, v in step.items() if k != 'view_range'})
        where = f'step {step}'
        if ok:
            assert not isinstance(obs, ErrorObservation), f'{where}: the editor succeeded, we answered {obs}'
            assert obs.content == content, f'{where}: content differs'
            if isinstance(obs, FileEditObservation):
                assert obs.impl_source == ACI
                assert obs.diff == get_diff(old or '', new or '', step['path']), f'{where}: diff differs'
                if step['command'] != 'view':
                    assert (obs.old_content, obs.new_content) == (old, new), f'{where}: old/new content differ'
            else:
                assert isinstance(obs, FileReadObservation)
                assert obs.impl_source == FileReadSource.OH_ACI
        else:
            assert isinstance(obs, ErrorObservation), f'{where}: the editor failed with {content!r}, we answered {obs}'
            assert obs.content == content, f'{where}: error sentence differs'
            assert obs.error_id.startswith('ERROR_')
        str(obs)  # what OpenHands' agent and UI render: must not raise
        for path, want in after.items():
            assert read_or_none(path) == want, f'{where}: {path} differs afterwards'
        pairs.append(((ok, content), obs))
    return pairs


def read_or_none(path):
    if os.path.isdir(path):
        return sorted(os.listdir(path))
    try:
        with open(path, 'rb') as f:
            return f.read()
    except FileNotFoundError:
        return None


TEXT = ''.join(f'line {i}\n' for i in range(1, 13))


@pytest.fixture()
def f(scratch):
    return os.path.join(scratch, 'file.py')


def test_view_file_whole_and_ranges(send, scratch, f):
    steps = [{'command': 'view', 'path': f}]
    for view_range in ([1, 3], [5, -1], [12, 12], [10, 40], [1, -1]):
        steps.append({'command': 'view', 'path': f, 'view_range': view_range})
    differential(send, scratch, {f: TEXT}, steps)


def test_view_file_without_final_line_break_and_empty(send, scratch, f):
    empty = os.path.join(scratch, 'empty.txt')
    differential(
        send,
        scratch,
        {f: 'a\nb', empty: ''},
        [
            {'command': 'view', 'path': f},
            {'command': 'view', 'path': f, 'view_range': [2, 2]},
            {'command': 'view', 'path': empty},
        ],
    )


def test_view_range_errors(send, scratch, f):
    pairs = differential(
        send,
        scratch,
        {f: TEXT},
        [
            {'command': 'view', 'path': f, 'view_range': [0, 2]},
            {'command': 'view', 'path': f, 'view_range': [13, 14]},
            {'command': 'view', 'path': f, 'view_range': [5, 3]},
            {'command': 'view', 'path': f, 'view_range': [5, -2]},
        ],
    )
    assert all(not ok for (ok, _), _obs in pairs)
    assert pairs[0][1].content == 'Invalid `view_range` parameter: [0, 2]. Its first element `0` should be within the range of lines of the file: [1, 12].'


def test_view_directory(send, scratch):
    tree = os.path.join(scratch, 'tree')
    files = {
        os.path.join(tree, 'top.txt'): 'x',
        os.path.join(tree, 'b-dir', 'inner.txt'): 'x',
        os.path.join(tree, 'b', 'c', 'deep.txt'): 'x',
        os.path.join(tree, 'B.txt'): 'x',
        os.path.join(tree, '.hidden'): 'x',
        os.path.join(tree, '.git', 'config'): 'x',
        os.path.join(tree, 'b', '.inner-hidden'): 'x',
    }
    reset(files)
    os.symlink(os.path.join(tree, 'b'), os.path.join(tree, 'link-to-b'))
    ok, content, _, _ = Theirs(scratch)(command='view', path=tree)
    assert ok
    obs = edit(send, command='view', path=tree)
    assert isinstance(obs, FileEditObservation)
    assert obs.content == content
    read = view(send, tree)
    assert isinstance(read, FileReadObservation)
    assert read.content == content
    # A view_range on a directory is refused, as the editor refuses it.
    ok, sentence, _, _ = Theirs(scratch)(command='view', path=tree, view_range=[1, 2])
    assert not ok
    refused = view(send, tree, [1, 2])
    assert isinstance(refused, ErrorObservation)
    assert refused.content == sentence


def test_create(send, scratch, f):
    pairs = differential(
        send,
        scratch,
        {f: None},
        [
            {'command': 'create', 'path': f, 'file_text': 'print(1)\nprint(2)\n'},
            {'command': 'create', 'path': f, 'file_text': 'again'},
            {'command': 'view', 'path': f},
        ],
    )
    created = pairs[0][1]
    assert created.content == f'File created successfully at: {f}'
    assert created.prev_exist is False
    assert pairs[1][1].content == f'Invalid `path` parameter: {f}. File already exists at: {f}. Cannot overwrite files using command `create`.'


def test_create_makes_missing_parents_on_purpose(send, scratch):
    path = os.path.join(scratch, 'new', 'sub', 'made.py')
    ok, sentence, _, _ = Theirs(scratch)(command='create', path=path, file_text='x\n')
    assert not ok and 'No such file or directory' in sentence
    obs = edit(send, command='create', path=path, file_text='x\n')
    assert isinstance(obs, FileEditObservation)
    assert obs.content == f'File created successfully at: {path}'
    assert read_or_none(path) == b'x\n'


def test_str_replace(send, scratch, f):
    differential(
        send,
        scratch,
        {f: TEXT},
        [
            {'command': 'str_replace', 'path': f, 'old_str': 'line 6\n', 'new_str': 'six\nSIX\n'},
            {'command': 'str_replace', 'path': f, 'old_str': 'line 1\n', 'new_str': ''},
            {'command': 'str_replace', 'path': f, 'old_str': 'line 12', 'new_str': 'last'},
            # Stray white space around old_str: the editor strips both strings and tries again.
            {'command': 'str_replace', 'path': f, 'old_str': '  line 9  ', 'new_str': ' nine '},
            {'command': 'view', 'path': f},
        ],
    )


def test_str_replace_errors(send, scratch, f):
    pairs = differential(
        send,
        scratch,
        {f: 'foo\nbar\nfoo bar foo\nbaz\n'},
        [
            {'command': 'str_replace', 'path': f, 'old_str': 'absent', 'new_str': 'x'},
            {'command': 'str_replace', 'path': f, 'old_str': 'foo', 'new_str': 'x'},
            {'command': 'str_replace', 'path': f, 'old_str': 'bar', 'new_str': 'bar'},
            {'command': 'str_replace', 'path': f, 'new_str': 'x'},
        ],
    )
    sentences = [obs.content for _, obs in pairs]
    assert sentences[0] == f'No replacement was performed, old_str `absent` did not appear verbatim in {f}.'
    assert sentences[1] == 'No replacement was performed. Multiple occurrences of old_str `foo` in lines [1, 3]. Please ensure it is unique.'
    assert sentences[2] == 'Invalid `new_str` parameter: bar. No replacement was performed. `new_str` and `old_str` must be different.'
    assert sentences[3] == 'Parameter `old_str` is required for command: str_replace.'
    assert [obs.error_id for _, obs in pairs] == ['ERROR_NO_MATCH', 'ERROR_MULTIPLE_MATCHES', 'ERROR_INVALID_ARGUMENT', 'ERROR_INVALID_ARGUMENT']


def test_insert(send, scratch, f):
    differential(
        send,
        scratch,
        {f: TEXT},
        [
            {'command': 'insert', 'path': f, 'insert_line': 0, 'new_str': 'first'},
            {'command': 'insert', 'path': f, 'insert_line': 7, 'new_str': 'a\nb'},
            {'command': 'insert', 'path': f, 'insert_line': 15, 'new_str': 'at the end\n'},
            {'command': 'insert', 'path': f, 'insert_line': 99, 'new_str': 'x'},
            {'command': 'insert', 'path': f, 'insert_line': -1, 'new_str': 'x'},
            {'command': 'insert', 'path': f, 'new_str': 'x'},
            {'command': 'insert', 'path': f, 'insert_line': 1},
            {'command': 'view', 'path': f},
        ],
    )


def test_undo_edit(send, scratch, f):
    pairs = differential(
        send,
        scratch,
        {f: 'v1\n'},
        [
            {'command': 'undo_edit', 'path': f},
            {'command': 'str_replace', 'path': f, 'old_str': 'v1', 'new_str': 'v2'},
            {'command': 'insert', 'path': f, 'insert_line': 1, 'new_str': 'v3'},
            {'command': 'undo_edit', 'path': f},
            {'command': 'undo_edit', 'path': f},
            {'command': 'undo_edit', 'path': f},
        ],
    )
    assert pairs[0][1].content == f'No edit history found for {f}.'
    assert pairs[0][1].error_id == 'ERROR_NO_HISTORY'


def test_undo_of_create_removes_the_file_on_purpose(send, scratch, f):
    reset({f: None})
    assert isinstance(edit(send, command='create', path=f, file_text='made\n'), FileEditObservation)
    undone = edit(send, command='undo_edit', path=f)
    assert isinstance(undone, FileEditObservation)
    assert undone.content == f'Last edit to {f} undone successfully: it was created by `create`, so the file has been removed.'
    assert not os.path.exists(f)


def test_path_errors(send, scratch, f, workdir):
    missing = os.path.join(scratch, 'missing.txt')
    binary = os.path.join(scratch, 'data.bin')
    pairs = differential(
        send,
        scratch,
        {f: TEXT, missing: None, binary: b'\x00\x01\x02binary\x00' * 100},
        [
            {'command': 'view', 'path': missing},
            {'command': 'str_replace', 'path': missing, 'old_str': 'a', 'new_str': 'b'},
            {'command': 'undo_edit', 'path': missing},
            {'command': 'insert', 'path': scratch, 'insert_line': 0, 'new_str': 'x'},
            {'command': 'view', 'path': binary},
            {'command': 'str_replace', 'path': binary, 'old_str': 'a', 'new_str': 'b'},
        ],
    )
    assert [obs.error_id for _, obs in pairs] == [
        'ERROR_FILE_NOT_FOUND',
        'ERROR_FILE_NOT_FOUND',
        'ERROR_FILE_NOT_FOUND',
        'ERROR_IS_DIRECTORY',
        'ERROR_BINARY_FILE',
        'ERROR_BINARY_FILE',
    ]


def test_relative_path_is_refused_with_a_suggestion(send, workdir):
    name = 'oh-compat-relative.txt'
    path = os.path.join(workdir, name)
    reset({path: 'x\n'})
    try:
        ok, sentence, _, _ = Theirs(workdir)(command='view', path=name)
        assert not ok
        obs = edit(send, command='view', path=name)
        assert isinstance(obs, ErrorObservation)
        assert obs.content == sentence
        assert obs.content == f'Invalid `path` parameter: {name}. The path should be an absolute path, starting with `/`. Maybe you meant {path}?'
        read = view(send, 'no-such-file.txt')
        assert read.content == 'Invalid `path` parameter: no-such-file.txt. The path should be an absolute path, starting with `/`.'
    finally:
        reset({path: None})


def test_str_replace_counts_matches_without_overlap_and_empty_old_str(send, scratch, f):
    differential(
        send,
        scratch,
        {f: 'aaa\nfoo\n'},
        [
            {'command': 'str_replace', 'path': f, 'old_str': '', 'new_str': 'x'},
            {'command': 'str_replace', 'path': f, 'old_str': 'aa', 'new_str': 'b'},
            {'command': 'view', 'path': f},
        ],
    )


def test_crlf_file_is_read_and_written_with_python_line_breaks(send, scratch, f):
    # Python reads text files with universal newlines and writes '\n': the editor turns a CRLF file into LF.
    differential(
        send,
        scratch,
        {f: 'one\r\ntwo\r\nthree\r\n'},
        [
            {'command': 'view', 'path': f},
            {'command': 'view', 'path': f, 'view_range': [2, 3]},
            {'command': 'str_replace', 'path': f, 'old_str': 'one\ntwo', 'new_str': 'ONE\nTWO'},
            {'command': 'insert', 'path': f, 'insert_line': 3, 'new_str': 'four'},
            {'command': 'undo_edit', 'path': f},
        ],
    )


def test_unicode_text(send, scratch, f):
    differential(
        send,
        scratch,
        {f: 'naïve café\n日本語のテキスト\nemoji 🎉 here\n'},
        [
            {'command': 'view', 'path': f},
            {'command': 'str_replace', 'path': f, 'old_str': '日本語', 'new_str': 'にほんご'},
            {'command': 'insert', 'path': f, 'insert_line': 3, 'new_str': 'más 🎉'},
            {'command': 'view', 'path': f, 'view_range': [3, 4]},
        ],
    )


# What OpenHands' agent can send that the editor (or OpenHands' server before it) answered with a
# sentence; an HTTP 400 instead makes OpenHands' client raise.


def test_view_range_not_two_numbers(send, scratch, f):
    reset({f: TEXT})
    ok, sentence, _, _ = Theirs(scratch)(command='view', path=f, view_range=[1])
    assert not ok
    obs = view(send, f, [1])
    assert isinstance(obs, ErrorObservation)
    assert obs.content == sentence == 'Invalid `view_range` parameter: [1]. It should be a list of two integers.'


def test_insert_line_as_a_string(send, scratch, f):
    # OpenHands' server turned a string insert_line into a number, or answered this sentence.
    reset({f: TEXT})
    ok, content, _, _ = Theirs(scratch)(command='insert', path=f, insert_line=2, new_str='x')
    assert ok
    reset({f: TEXT})
    obs = edit(send, command='insert', path=f, insert_line='2', new_str='x')
    assert isinstance(obs, FileEditObservation)
    assert obs.content == content
    bad = edit(send, command='insert', path=f, insert_line='two', new_str='x')
    assert isinstance(bad, ErrorObservation)
    assert bad.content == "Invalid insert_line value: 'two'. Expected an integer."


def test_unknown_editor_command(send, scratch, f):
    reset({f: TEXT})
    ok, sentence, _, _ = Theirs(scratch)(command='write', path=f)
    assert not ok
    obs = edit(send, command='write', path=f)
    assert isinstance(obs, ErrorObservation)
    assert obs.content == sentence
