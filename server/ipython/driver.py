"""The run_ipython cell driver: one long-lived Python interpreter per shell session.

The server starts it as `python3 ipython-driver.py` with fd 0 = /dev/null, fd 1 = the output pipe,
fd 2 = a pipe it reads only while the driver starts, and fd 3 = the control socket (one JSON object
per line, see PROTOCOL.md, run_ipython). Standard library only; CPython 3.7 to 3.13 (3.6 runs too).

Whatever a cell does, the driver either reports the cell's outcome or the process exits (and the
server starts a fresh one). All of a cell's output goes to fd 1; when the cell ends the driver
writes the end mark ESC ] 6974 ; NONCE ; ID BEL to fd 1, then sends `done` on the control socket.
"""
import ast
import base64
import builtins
import fcntl
import inspect
import io
import json
import linecache
import os
import re
import signal
import sys
import threading
import time
import traceback
import types
import warnings

CONTROL_FD = 3
# Output waiting in our buffers reaches fd 1 within this while a cell runs (between cells, 10x it).
FLUSH_SECONDS = 0.05
# The byte buffer in front of fd 1: a write of this size or more goes straight through.
BUFFER_BYTES = 1 << 16
# Saved descriptors live at or above this number, close-on-exec, out of the way of the cell's own.
HIGH_FD = 200
NONCE_PATTERN = re.compile(r"[0-9a-f]{32}")
# Events after which a program other than this interpreter writes to fd 1: flush first, so the
# cell's earlier output comes first (sys.addaudithook, Python 3.8+; forks use register_at_fork).
SPAWN_EVENTS = frozenset(
    ("subprocess.Popen", "os.system", "os.posix_spawn", "os.spawn", "os.exec", "os.forkpty")
)

DRIVER_PID = os.getpid()


class State:
    """What the driver's threads share."""

    in_cell = False
    # The SIGINT handler the running cell installed (IPython runs a cell statement by statement).
    cell_sigint = None
    # PNG data: URLs the cell displayed (IPython display()), before its open figures are added.
    images = []


def fail_at_start(message):
    """Before `ready`, fd 2 is the start-up pipe the server reads: say why, and exit."""
    try:
        os.write(2, ("ipython driver: %s\n" % message).encode("utf-8", "backslashreplace"))
    finally:
        os._exit(2)


def high_copy(fd):
    """A close-on-exec duplicate of fd at HIGH_FD or above (lower if the fd limit is small)."""
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except Exception:
        soft = 1024
    floor = HIGH_FD if soft < 0 or soft > HIGH_FD + 64 else 10
    copy = fcntl.fcntl(fd, fcntl.F_DUPFD, floor)
    os.set_inheritable(copy, False)
    return copy


def identity(fd):
    """(device, inode) of what fd refers to, or None when fd is closed."""
    try:
        st = os.fstat(fd)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def allow_interrupts():
    """SIGINT raises KeyboardInterrupt: only while the cell's own code runs (not IPython's
    bookkeeping, nor the driver's: an interrupt there could leave a lock taken for good)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)


def interrupt_outside_cell(signum, frame):
    """SIGINT outside the cell's own code does nothing. A Python handler rather than SIG_IGN:
    an interrupt caught mid-switch would otherwise print "Signal 2 ignored due to race condition"."""


def ignore_sigint():
    while True:
        try:
            signal.signal(signal.SIGINT, interrupt_outside_cell)
            return
        except BaseException:
            continue  # an interrupt that arrived just now: once switched, none comes


def write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


# ---------------------------------------------------------------------------------------------
# The control socket
# ---------------------------------------------------------------------------------------------


class Channel:
    """Newline-delimited JSON on the control socket. Its end (EOF, any error) ends the driver."""

    def __init__(self, fd):
        self.fd = fd
        self.identity = identity(fd)
        self.pending = bytearray()

    def read(self):
        """The next message (a dict), or a str saying why the line was not one."""
        scanned = 0  # a cell of many MB arrives in many reads: look at each byte once
        while True:
            end = self.pending.find(b"\n", scanned)
            if end >= 0:
                break
            scanned = len(self.pending)
            try:
                chunk = os.read(self.fd, 1 << 20)
            except OSError:
                chunk = b""
            if not chunk:
                os._exit(0)  # the server went away
            self.pending += chunk
        line = bytes(self.pending[:end])
        del self.pending[: end + 1]
        try:
            message = json.loads(line.decode("utf-8"))
        except ValueError as exc:
            return "a control line that is not JSON (%s): %r" % (exc, line[:200])
        if not isinstance(message, dict):
            return "a control line that is not a JSON object: %r" % line[:200]
        return message

    def send(self, message):
        data = (json.dumps(message, separators=(",", ":")) + "\n").encode("utf-8")
        try:
            write_all(self.fd, data)
        except OSError:
            os._exit(0)

    def check(self):
        """After a cell: a cell that closed or replaced the socket's fd leaves no way to answer."""
        if identity(self.fd) != self.identity:
            os._exit(3)

    def close_in_child(self):
        try:
            os.close(self.fd)
        except OSError:
            pass


# ---------------------------------------------------------------------------------------------
# Output: sys.stdout and sys.stderr
# ---------------------------------------------------------------------------------------------


class TextOut(io.TextIOWrapper):
    """sys.stdout: Python's own C text layer over a 64 KiB byte buffer over fd 1.

    Block-buffered for throughput (a syscall per line would halve it); the flusher thread, the end
    of the cell and a spawn or fork flush it. Its .buffer is BytesOut, which keeps bytes in order
    with text.
    """

    @property
    def buffer(self):
        return self._bytes_out


class BytesOut(io.BufferedIOBase):
    """sys.stdout.buffer: bytes written here stay in order with the text written before them."""

    def __init__(self, text, buffered):
        self._text = text
        self._buffered = buffered

    def write(self, data):
        view = memoryview(data).cast("B")
        size = view.nbytes
        text = self._text
        if size < BUFFER_BYTES and text.encoding == "utf-8" and text.errors == "surrogateescape":
            # Through the text layer: undecodable bytes travel as lone surrogates and come out
            # as the same bytes, in order with the pending text.
            text.write(str(view, "utf-8", "surrogateescape"))
        else:
            text.flush()
            self._buffered.write(view)
        return size

    def flush(self):
        self._text.flush()

    def fileno(self):
        return self._buffered.fileno()

    def isatty(self):
        return False

    def writable(self):
        return True

    @property
    def raw(self):
        return self._buffered.raw

    @property
    def name(self):
        return self._text.name

    @property
    def mode(self):
        return "wb"


class ErrOut(io.TextIOBase):
    """sys.stderr: writes into sys.stdout's stream (same order), fileno() 2, backslashreplace."""

    def __init__(self, text):
        self._text = text

    def write(self, s):
        try:
            return self._text.write(s)
        except UnicodeEncodeError:
            return self._text.write(s.encode("utf-8", "backslashreplace").decode("utf-8"))

    def flush(self):
        self._text.flush()

    def fileno(self):
        return 2

    def isatty(self):
        return False

    def writable(self):
        return True

    def readable(self):
        return False

    def seekable(self):
        return False

    @property
    def encoding(self):
        return self._text.encoding

    @property
    def errors(self):
        return "backslashreplace"

    @property
    def buffer(self):
        return self._text.buffer

    @property
    def line_buffering(self):
        return self._text.line_buffering

    @property
    def name(self):
        return "<stderr>"

    @property
    def mode(self):
        return "w"

    def reconfigure(self, **kwargs):
        self._text.reconfigure(**kwargs)

    def __getattr__(self, name):
        if name == "_text":
            raise AttributeError(name)
        return getattr(self._text, name)


class Output:
    """Owns fd 1 (through a saved copy), the stream objects, and who flushes them when."""

    def __init__(self, out_fd):
        self.out_fd = out_fd
        self.identity = identity(out_fd)
        self.lock = threading.RLock()
        self.wake = threading.Event()  # set when a cell starts: the flusher's pace changes
        # The interpreter's own stdio objects would close fd 1 and 2 when collected: keep them.
        self.originals = (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__)
        for stream in self.originals:
            try:
                stream.flush()
            except Exception:
                pass
        self.build()

    def build(self):
        raw = io.FileIO(1, "wb", closefd=False)
        raw.name = "<stdout>"
        buffered = io.BufferedWriter(raw, BUFFER_BYTES)
        text = TextOut(buffered, encoding="utf-8", errors="surrogateescape", newline="\n")
        text.mode = "w"
        text._bytes_out = BytesOut(text, buffered)
        self.text = text
        self.err = ErrOut(text)
        self.install()

    def install(self):
        sys.stdout = sys.__stdout__ = self.text
        sys.stderr = sys.__stderr__ = self.err

    def flush(self):
        """Our buffers to fd 1; False when that failed (fd 1 closed, a broken pipe)."""
        with self.lock:
            try:
                self.text.flush()
                return True
            except Exception:
                return False

    def note(self, message):
        """A line of the driver's own in the cell's output (never between cells)."""
        try:
            self.err.write(message.rstrip("\n") + "\n")
        except Exception:
            pass

    def usable(self):
        try:
            return not self.text.closed
        except ValueError:  # detached
            return False

    def finish_cell(self):
        """After a cell: its output is on the pipe, and the next cell starts with ours in place."""
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            if stream is not self.text and stream is not self.err:
                try:
                    stream.flush()  # a replacement that wraps fd 1 keeps its order before the mark
                except Exception:
                    pass
        usable = self.usable()
        # Into whatever fd 1 is now (a file the cell redirected it to gets what was meant for it).
        flushed = usable and self.flush()
        if identity(self.out_fd) != self.identity:
            self.recover_out_fd()
        for fd in (1, 2):
            if identity(fd) != self.identity:
                os.dup2(self.out_fd, fd)
        if not usable:
            with self.lock:
                self.build()  # closed or detached by the cell: afresh
            return
        if not flushed:
            self.flush()  # fd 1 was closed: what it refused goes out now, as Python would
        if self.err.closed:
            self.err = ErrOut(self.text)
        self.install()

    def recover_out_fd(self):
        for fd in (1, 2):
            if identity(fd) == self.identity:
                self.out_fd = high_copy(fd)
                return
        os._exit(3)  # the output pipe is gone from this process: nothing can reach the server

    def write_mark(self, mark):
        try:
            write_all(self.out_fd, mark)
        except OSError:
            os._exit(0)

    def flush_loop(self):
        while True:
            self.wake.wait(FLUSH_SECONDS if State.in_cell else FLUSH_SECONDS * 10)
            self.wake.clear()
            self.flush()

    def before_fork(self):
        # Held across the fork: the flusher thread is not inside a flush (its lock would stay
        # taken in the child), and nothing buffered is written twice.
        self.lock.acquire()
        try:
            self.text.flush()
        except Exception:
            pass

    def after_fork_in_parent(self):
        self.lock.release()

    def after_fork_in_child(self):
        self.lock = threading.RLock()

    def audit(self, event, args):
        # Runs in the cell, where a KeyboardInterrupt may come at any line: no lock of ours here.
        if event in SPAWN_EVENTS:
            try:
                self.text.flush()
            except Exception:
                pass


# ---------------------------------------------------------------------------------------------
# Cell engines
# ---------------------------------------------------------------------------------------------


def exit_forked_child(code=0):
    """A process the cell forked came back into the driver: it ends here, output flushed."""
    try:
        if code is not None and not isinstance(code, int):
            sys.stderr.write("%s\n" % (code,))  # sys.exit("message"), as Python does
            code = 1
        for stream in (sys.stdout, sys.stderr, sys.__stdout__):
            stream.flush()
    except Exception:
        pass
    os._exit(0 if code is None else int(code) & 0xFF)


def image_url(png):
    if isinstance(png, str):  # IPython's display data: base64 text, with line breaks
        return "data:image/png;base64," + "".join(png.split())
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


class PlainEngine:
    """No IPython: exec with a final expression statement in 'single' mode (its repr printed)."""

    ipython = False

    def __init__(self):
        self.module = types.ModuleType("__main__")
        self.module.__dict__["__builtins__"] = builtins
        sys.modules["__main__"] = self.module

    def run(self, code, cell_id):
        filename = "<cell-%d>" % cell_id
        linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
        try:
            parts = self.compile(code, filename)
        except Exception as exc:
            if isinstance(exc, SyntaxError):
                exc = self.explain_shell_syntax(exc, code, filename)
            self.show(traceback.format_exception_only(type(exc), exc))
            return type(exc).__name__
        namespace = self.module.__dict__
        try:
            allow_interrupts()
            for part in parts:
                exec(part, namespace)
        except BaseException as exc:
            ignore_sigint()
            if isinstance(exc, SystemExit) and os.getpid() != DRIVER_PID:
                exit_forked_child(exc.code)
            self.report(exc)
            return type(exc).__name__
        ignore_sigint()
        return None

    @staticmethod
    def compile(code, filename):
        tree = ast.parse(code, filename, "exec")
        body = tree.body
        last = None
        if body and isinstance(body[-1], ast.Expr):
            body, last = body[:-1], body[-1]
        module = ast.Module(body=body)
        if "type_ignores" in ast.Module._fields:
            module.type_ignores = []
        parts = [compile(module, filename, "exec")]
        if last is not None:
            parts.append(compile(ast.Interactive(body=[last]), filename, "single"))
        return parts

    @staticmethod
    def explain_shell_syntax(exc, code, filename):
        lines = code.splitlines()
        lineno = exc.lineno or 0
        line = lines[lineno - 1] if 0 < lineno <= len(lines) else ""
        if not line.lstrip().startswith(("!", "%")):
            return exc
        message = "`!` and `%%` lines need IPython, which this python (%s) cannot import" % (
            sys.executable or "python3"
        )
        offset = len(line) - len(line.lstrip()) + 1
        return SyntaxError(message, (filename, lineno, offset, line + "\n"))

    def report(self, exc):
        sys.last_type, sys.last_value = type(exc), exc
        # The first entry is this driver's exec; the cell's frames follow.
        tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
        sys.last_traceback = tb
        if sys.version_info >= (3, 12):
            sys.last_exc = exc
        hook = sys.excepthook
        if hook is not sys.__excepthook__:
            try:
                hook(type(exc), exc, tb)
                return
            except Exception:
                pass
        self.show(traceback.format_exception(type(exc), exc, tb))

    @staticmethod
    def show(lines):
        text = "".join(lines)
        try:
            sys.stderr.write(text)
        except Exception:
            sys.__stderr__.write(text)


class IPythonEngine:
    """IPython importable: its InteractiveShell, no prompts, no colors, history in memory."""

    ipython = True

    def __init__(self):
        import IPython
        from IPython.core.displayhook import DisplayHook
        from IPython.core.displaypub import DisplayPublisher
        from IPython.core.interactiveshell import InteractiveShell
        from traitlets.config import Config

        class Hook(DisplayHook):
            """The last expression's value as a Jupyter text/plain result shows: no Out[n]:."""

            def write_output_prompt(self):
                pass

            def write_format_data(self, format_dict, md_dict=None):
                png = format_dict.get("image/png")
                if png:
                    State.images.append(image_url(png))
                elif "text/plain" in format_dict:
                    print(format_dict["text/plain"])

            def finish_displayhook(self):
                pass

        class Publisher(DisplayPublisher):
            """display(): PNG images go to the cell's images, anything else prints as text."""

            def publish(self, data, metadata=None, *args, **kwargs):
                png = data.get("image/png")
                if png:
                    State.images.append(image_url(png))
                elif "text/plain" in data:
                    print(data["text/plain"])

        config = Config()
        config.HistoryManager.hist_file = ":memory:"
        major = IPython.version_info[0]
        self.shell = InteractiveShell.instance(
            config=config,
            colors="nocolor" if major >= 9 else "NoColor",
            displayhook_class=Hook,
            display_pub_class=Publisher,
            separate_in="",
            separate_out="",
            separate_out2="",
        )
        show = self.shell.showtraceback

        def showtraceback(*args, **kwargs):
            exc = sys.exc_info()[1]
            if isinstance(exc, SystemExit) and os.getpid() != DRIVER_PID:
                exit_forked_child(exc.code)
            previous = signal.getsignal(signal.SIGINT)
            ignore_sigint()  # a second C-c does not cut the traceback of the first short
            try:
                return show(*args, **kwargs)
            finally:
                if previous is signal.default_int_handler:
                    allow_interrupts()

        self.shell.showtraceback = showtraceback
        self.shell.run_code = interruptible(self.shell.run_code)
        # exit() and quit() end nothing here (a cell's SystemExit does not either).
        self.shell.ask_exit = lambda: None
        # No GUI event loop to start: `%matplotlib inline` (figures via display()) must work.
        self.shell.enable_gui = lambda gui=None: None

    def run(self, code, cell_id):
        result = self.shell.run_cell(code, store_history=True)
        self.shell.exit_now = False  # `exit` in a cell: the interpreter stays
        exc = result.error_before_exec or result.error_in_exec
        return None if exc is None else type(exc).__name__


def interruptible(run_code):
    """IPython's run_code (async since IPython 7), with interrupts allowed while it runs. It runs
    once per top-level statement: a SIGINT handler that one statement installs stays in force
    for the cell's next ones."""

    def before():
        if State.cell_sigint is None:
            allow_interrupts()
        else:
            signal.signal(signal.SIGINT, State.cell_sigint)

    def after():
        current = signal.getsignal(signal.SIGINT)
        if current is not signal.default_int_handler and current is not interrupt_outside_cell:
            State.cell_sigint = current
        ignore_sigint()

    if inspect.iscoroutinefunction(run_code):

        async def run_code_async(*args, **kwargs):
            before()
            try:
                return await run_code(*args, **kwargs)
            finally:
                after()

        return run_code_async

    def run_code_sync(*args, **kwargs):
        before()
        try:
            return run_code(*args, **kwargs)
        finally:
            after()

    return run_code_sync


def make_engine():
    try:
        return IPythonEngine()
    except Exception as exc:
        if not isinstance(exc, ImportError):
            sys.stderr.write("ipython driver: IPython is installed but did not start (%r)\n" % exc)
        return PlainEngine()


def figures(output):
    """Every open matplotlib figure as a PNG data: URL, in figure order; then all are closed."""
    plt = sys.modules.get("matplotlib.pyplot")
    helpers = sys.modules.get("matplotlib._pylab_helpers")
    if plt is None or helpers is None:
        return []
    urls = []
    try:
        managers = sorted(helpers.Gcf.get_all_fig_managers(), key=lambda m: m.num)
    except Exception:
        return []
    for manager in managers:
        png = io.BytesIO()
        try:
            figure = manager.canvas.figure
            try:
                figure.savefig(png, format="png", bbox_inches="tight")
            except Exception:
                png = io.BytesIO()
                figure.savefig(png, format="png")
            urls.append(image_url(png.getvalue()))
        except Exception as exc:
            output.note("figure %s could not be saved as PNG: %r" % (manager.num, exc))
    try:
        plt.close("all")
    except Exception:
        pass
    return urls


# ---------------------------------------------------------------------------------------------
# The loop
# ---------------------------------------------------------------------------------------------


def run_guarded(engine, code, cell_id, output):
    """The cell's error class name or None; whatever happens, the driver goes on."""
    error = None
    State.in_cell = True
    State.cell_sigint = None
    output.wake.set()
    try:
        try:
            error = engine.run(code, cell_id)
        finally:
            State.in_cell = False
            ignore_sigint()
    except BaseException as exc:  # an interrupt as the cell's own code ended, or the engine broke
        ignore_sigint()
        State.in_cell = False
        error = type(exc).__name__
        output.note("".join(traceback.format_exception_only(type(exc), exc)))
    return error


def restore_process_state(recursion_limit):
    if sys.getrecursionlimit() < recursion_limit:
        sys.setrecursionlimit(recursion_limit)
    try:
        if signal.getsignal(signal.SIGPIPE) != signal.SIG_IGN:
            signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # a write to a gone reader: EPIPE, not death
    except Exception:
        pass


def run_cell(message, engine, output, channel, nonce, recursion_limit):
    cell_id = message.get("id")
    code = message.get("code")
    cwd = message.get("cwd")
    if not isinstance(cell_id, int) or isinstance(cell_id, bool):
        channel.send({"op": "error", "message": "a cell needs an integer id, got %r" % (cell_id,)})
        return
    if not isinstance(code, str) or not (cwd is None or isinstance(cwd, str)):
        problem = "a cell needs code (a string) and cwd (a string or null)"
        channel.send({"op": "error", "id": cell_id, "message": problem})
        return
    State.images = []
    if cwd is not None:
        try:
            os.chdir(cwd)
        except OSError as exc:
            output.note(
                "cannot enter %s (%s); the cell runs in %s"
                % (cwd, exc.strerror or exc, os.getcwd())
            )
    error = run_guarded(engine, code, cell_id, output)
    if os.getpid() != DRIVER_PID:
        exit_forked_child(0)
    images = list(State.images)
    try:
        images.extend(figures(output))
        output.finish_cell()
        restore_process_state(recursion_limit)
    except BaseException as exc:  # the driver's own bug: the cell still ends, with a note
        ignore_sigint()
        output.note("ipython driver: %r" % (exc,))
        output.flush()
    channel.check()
    output.write_mark(b"\x1b]6974;" + nonce + b";" + str(cell_id).encode("ascii") + b"\x07")
    channel.send({"op": "done", "id": cell_id, "images": images, "error": error})


def start():
    """Set up (anything said before `ready` goes to the start-up pipe on fd 2), then say ready."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        control = high_copy(CONTROL_FD)
        os.close(CONTROL_FD)
        out_fd = high_copy(1)
    except OSError as exc:
        fail_at_start("fd 1 and fd 3 must be open (%s)" % exc)
    channel = Channel(control)
    hello = channel.read()
    nonce = hello.get("nonce") if isinstance(hello, dict) and hello.get("op") == "hello" else None
    if not isinstance(nonce, str) or not NONCE_PATTERN.fullmatch(nonce):
        fail_at_start('the first control line must be {"op":"hello","nonce":"<32 hex>"}, got %r' % (hello,))
    os.dup2(2, 1)  # until ready, what the set-up prints goes to the start-up pipe

    # The cell's view: an interactive interpreter in the session's directory.
    sys.argv = [""]
    script_dir = os.path.dirname(os.path.abspath(__file__))
    if sys.path and sys.path[0] == script_dir:
        sys.path[0] = ""
    os.environ.setdefault("MPLBACKEND", "Agg")
    warnings.filterwarnings(
        "ignore",
        message=r".*(non-GUI backend, so cannot show|is non-interactive, and thus cannot be shown)",
        category=UserWarning,
    )
    # IPython's advice after a SystemExit; exit does not end this interpreter.
    warnings.filterwarnings("ignore", message="To exit: use 'exit', 'quit', or Ctrl-D", category=UserWarning)

    # A bigger pipe lets a fast printer run ahead of the server reading it (Linux; best effort).
    try:
        fcntl.fcntl(out_fd, 1031, 1 << 20)  # F_SETPIPE_SZ
    except (OSError, ValueError):
        pass
    output = Output(out_fd)
    engine = make_engine()
    output.flush()
    os.dup2(out_fd, 1)
    os.dup2(out_fd, 2)  # the start-up pipe closes here; from now on stderr is the output pipe

    if hasattr(os, "register_at_fork"):  # Python 3.7+ (3.6 runs, without it)
        os.register_at_fork(
            before=output.before_fork,
            after_in_parent=output.after_fork_in_parent,
            after_in_child=lambda: (output.after_fork_in_child(), channel.close_in_child()),
        )
    if hasattr(sys, "addaudithook"):
        sys.addaudithook(output.audit)
    threading.Thread(target=output.flush_loop, name="ipython-driver-flush", daemon=True).start()
    ignore_sigint()
    channel.send(
        {
            "op": "ready",
            "pid": os.getpid(),
            "python": sys.executable,
            "version": sys.version.split()[0],
            "ipython": engine.ipython,
        }
    )
    return channel, output, engine, nonce.encode("ascii")


def main():
    channel, output, engine, nonce = start()
    recursion_limit = sys.getrecursionlimit()
    while True:
        message = channel.read()
        try:
            if isinstance(message, str):
                channel.send({"op": "error", "message": message})
            elif message.get("op") == "cell":
                run_cell(message, engine, output, channel, nonce, recursion_limit)
            else:
                channel.send({"op": "error", "message": "unknown op %r" % (message.get("op"),)})
        except BaseException as exc:  # the driver's own bug: say so on the control socket, go on
            ignore_sigint()
            channel.send({"op": "error", "message": "driver error: %r" % (exc,)})


if __name__ == "__main__":
    main()
