"""list_files, copy_to and copy_from: OpenHands' client's own requests to the file routes."""

import os
import zipfile


def put(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(text)


def test_list_files(runtime, scratch):
    put(os.path.join(scratch, 'b.txt'), 'b')
    put(os.path.join(scratch, 'A.txt'), 'a')
    put(os.path.join(scratch, 'zdir', 'x'), 'x')
    put(os.path.join(scratch, 'Adir', 'x'), 'x')
    assert runtime.list_files(scratch) == ['Adir/', 'zdir/', 'A.txt', 'b.txt']


def test_list_files_default_is_the_working_dir(runtime, workdir):
    name = 'oh-compat-listed.txt'
    put(os.path.join(workdir, name), 'x')
    try:
        assert name in runtime.list_files()
    finally:
        os.unlink(os.path.join(workdir, name))


def test_copy_to_a_file(runtime, scratch, tmp_path):
    src = tmp_path / 'upload.txt'
    src.write_text('uploaded\n')
    dest = os.path.join(scratch, 'in')
    runtime.copy_to(str(src), dest)
    with open(os.path.join(dest, 'upload.txt')) as f:
        assert f.read() == 'uploaded\n'


def test_copy_to_a_directory_as_zip(runtime, scratch, tmp_path):
    src = tmp_path / 'project'
    (src / 'pkg').mkdir(parents=True)
    (src / 'README').write_text('top\n')
    (src / 'pkg' / 'mod.py').write_text('x = 1\n')
    dest = os.path.join(scratch, 'in')
    runtime.copy_to(str(src), dest, recursive=True)
    with open(os.path.join(dest, 'project', 'README')) as f:
        assert f.read() == 'top\n'
    with open(os.path.join(dest, 'project', 'pkg', 'mod.py')) as f:
        assert f.read() == 'x = 1\n'


def test_copy_from(runtime, scratch):
    put(os.path.join(scratch, 'out', 'a.txt'), 'A')
    put(os.path.join(scratch, 'out', 'sub', 'b.txt'), 'B')
    archive = runtime.copy_from(os.path.join(scratch, 'out'))
    try:
        with zipfile.ZipFile(archive) as z:
            names = {n for n in z.namelist() if not n.endswith('/')}
            contents = {os.path.basename(n): z.read(n) for n in names}
        assert contents == {'a.txt': b'A', 'b.txt': b'B'}
        assert any(n.endswith('sub/b.txt') for n in names)
    finally:
        os.unlink(archive)
