"""TensorFlow's start-up notices, off on CPU-only machines unless ``chromtransfer -v``.

On a machine without an NVIDIA driver, every process that imports TensorFlow prints::

    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    I0000 00:00:... cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will ...
    I0000 00:00:... cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use ...
    E0000 00:00:... cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: ...
    I0000 00:00:... generator_dataset_op.cc:213] Memory patch applied: M_TRIM_THRESHOLD=...

(the first two twice: two of TensorFlow's libraries carry the CUDA stub). None of it is news on a
CPU-only machine, and ``failed call to cuInit`` reads like a failure. :func:`quiet_tensorflow`,
called by ``chromtransfer``'s ``main`` before anything imports TensorFlow, sets
``TF_CPP_MIN_LOG_LEVEL=3`` there (``setdefault``: a user's own value wins, so
``TF_CPP_MIN_LOG_LEVEL=0`` shows everything, as ``chromtransfer doctor`` suggests). That level
reaches what TensorFlow logs once its logging has read the variable; the CUDA-stub lines come
earlier, while its libraries load, from a logger that reads no variable. So the first import of
``tensorflow`` in the process runs with file descriptor 2 going to a temporary file, and every
line of it is then written to stderr except those that level hides (absl-format lines of a lower
severity, and the "before absl::InitializeLog()" notice); if the import fails, all of it is.

``chromtransfer book`` runs each chapter in a Jupyter kernel, a process of its own that imports
TensorFlow again and writes to the file descriptor 2 it inherited; :func:`kernels_quiet` filters
that descriptor through the same rule while the book runs (and drops Jupyter's notice, at every
kernel start, that the local kernel's ports are unencrypted TCP). The notebooks' own outputs are
not touched: the book leaves stderr out of its pages.

With ``-v``, on a machine with an NVIDIA driver (where TensorFlow's device messages are the
first thing to read when something is wrong), or when a user has set ``TF_CPP_MIN_LOG_LEVEL=0``,
nothing is hidden. ``TF_ENABLE_ONEDNN_OPTS`` is never touched: it changes numerics, not
messages. Python warnings and exceptions are never hidden.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = [
    "KERNEL_TCP_NOTICE",
    "LEVEL_ENV",
    "drop_notices",
    "kernels_quiet",
    "nvidia_driver_found",
    "quiet_tensorflow",
]

LEVEL_ENV = "TF_CPP_MIN_LOG_LEVEL"

#: An absl log line: severity letter (I, W, E, F = 0-3), date, time, thread, file:line].
_ABSL_LINE = re.compile(r"^([IWEF])\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [^ \]]+:\d+\] ")
_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
#: How the second line of the CPU-feature notice starts.
_CONTINUED = ("To enable the following instructions:",)


def nvidia_driver_found() -> bool:
    """An NVIDIA driver is installed: ``nvidia-smi`` on PATH or ``/dev/nvidia0`` exists."""
    return shutil.which("nvidia-smi") is not None or Path("/dev/nvidia0").exists()


def _level() -> int:
    try:
        return int(os.environ.get(LEVEL_ENV, "0"))
    except ValueError:
        return 0


def _saved_stderr() -> int | None:
    """A duplicate of file descriptor 2 (after flushing ``sys.stderr``), or None without one."""
    try:
        sys.stderr.flush()
        return os.dup(2)
    except (OSError, ValueError, AttributeError):
        return None


class _NoticeFilter:
    """Line by line: whether a line is a notice :func:`drop_notices` drops (its state carries
    over to the next line, for the second line of a dropped message)."""

    def __init__(self, level: int, extra: tuple[str, ...] = ()):
        self.level, self.extra, self.dropped = level, extra, False

    def drops(self, line: str) -> bool:
        m = _ABSL_LINE.match(line)
        if m:
            self.dropped = "IWEF".index(m[1]) < self.level
        elif self.dropped and line.startswith(_CONTINUED):
            pass  # the second line of a dropped message
        else:
            bare = line.rstrip("\r\n")
            self.dropped = bare == _PREAMBLE or any(x in bare for x in self.extra)
        return self.dropped


def drop_notices(text: str, level: int) -> str:
    """``text`` without the absl log lines of a severity below ``level`` (``I``=0, ``W``=1,
    ``E``=2, ``F``=3) and, for ``level >= 1``, the "before absl::InitializeLog()" notice."""
    if level < 1:
        return text
    f = _NoticeFilter(level)
    return "".join(line for line in text.splitlines(keepends=True) if not f.drops(line))


#: Jupyter's notice, at every kernel start, that the kernel's ports are plain TCP (papermill
#: starts its kernels on localhost).
KERNEL_TCP_NOTICE = "Kernel is running over TCP without encryption"


def _pump(read_fd: int, write_fd: int, f: _NoticeFilter) -> None:
    """Copy ``read_fd`` to ``write_fd`` until end of file, dropping :class:`_NoticeFilter`'s
    lines. A line is complete at ``\\n`` or ``\\r`` (progress bars redraw with ``\\r``)."""
    buf = b""
    while chunk := os.read(read_fd, 65536):
        buf += chunk
        cut = max(buf.rfind(b"\n"), buf.rfind(b"\r")) + 1
        if not cut:
            continue
        done, buf = buf[:cut], buf[cut:]
        lines = done.decode(errors="replace").splitlines(keepends=True)
        kept = "".join(line for line in lines if not f.drops(line))
        if kept:
            os.write(write_fd, kept.encode())
    if buf:
        os.write(write_fd, buf)
    os.close(read_fd)


@contextmanager
def kernels_quiet(*, verbose: bool) -> Iterator[None]:
    """While the block runs, drop TensorFlow's start-up notices from what this process *and
    its children* write to file descriptor 2 (``chromtransfer book``: each chapter's Jupyter
    kernel inherits it and imports TensorFlow itself), and Jupyter's :data:`KERNEL_TCP_NOTICE`.

    fd 2 goes to a pipe; a thread writes every other line to the original stderr as it
    arrives. The level is the process's ``TF_CPP_MIN_LOG_LEVEL`` (set by
    :func:`quiet_tensorflow`, and inherited by the kernels); with ``verbose``, on a machine
    with an NVIDIA driver or at level 0 nothing is filtered.
    """
    import threading

    level = _level()
    if verbose or nvidia_driver_found() or level < 1:
        yield
        return
    saved = _saved_stderr()
    if saved is None:  # no usable fd 2: nothing to filter
        yield
        return
    read_fd, write_fd = os.pipe()
    f = _NoticeFilter(level, (KERNEL_TCP_NOTICE,))
    pump = threading.Thread(target=_pump, args=(read_fd, saved, f), daemon=True)
    pump.start()
    os.dup2(write_fd, 2)
    os.close(write_fd)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # closes this process's write end of the pipe
        pump.join(timeout=5)  # a child still holding the pipe keeps it open: stop waiting
        if not pump.is_alive():
            os.close(saved)  # else the thread keeps writing to it until the child exits


@contextmanager
def _stderr_filtered(level: int) -> Iterator[None]:
    """Send file descriptor 2 to a temporary file; write it back through :func:`drop_notices`
    (everything, if the block raised)."""
    saved = _saved_stderr()
    if saved is None:  # no usable fd 2: nothing to filter
        yield
        return
    ok = False
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
            ok = True
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            text = tmp.read().decode(errors="replace")
            text = drop_notices(text, level) if ok else text
            if text:
                sys.stderr.write(text)
                sys.stderr.flush()


class _FilteredLoader(importlib.abc.Loader):
    """Runs the wrapped loader's ``exec_module`` under :func:`_stderr_filtered`."""

    def __init__(self, loader: importlib.abc.Loader, level: int):
        self._loader, self._level = loader, level

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        with _stderr_filtered(self._level):
            self._loader.exec_module(module)

    def __getattr__(self, name: str):  # resource readers, get_data, ...: the real loader's
        return getattr(self._loader, name)


def _uninstall(finder: importlib.abc.MetaPathFinder | None) -> None:
    if finder is not None and finder in sys.meta_path:
        sys.meta_path.remove(finder)


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder):
    """Wraps the first import of ``tensorflow`` in this process (then steps aside)."""

    def __init__(self, level: int):
        self.level = level

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "tensorflow":
            return None
        _uninstall(self)
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _FilteredLoader(spec.loader, self.level)
        return spec


def quiet_tensorflow(*, verbose: bool) -> Callable[[], None]:
    """Silence TensorFlow's start-up notices on a CPU-only machine unless ``verbose``.

    Sets ``TF_CPP_MIN_LOG_LEVEL=3`` unless the user has set it, and filters the first import
    of ``tensorflow`` in this process (module docstring). Returns a function that undoes both
    (``main`` calls it when the command returns, so that an in-process caller such as a test
    keeps its environment).
    """
    if verbose or nvidia_driver_found():
        return lambda: None
    was_set = LEVEL_ENV in os.environ
    os.environ.setdefault(LEVEL_ENV, "3")
    level = _level()
    finder = None
    if level >= 1 and "tensorflow" not in sys.modules:
        finder = _QuietTensorFlowImport(level)
        sys.meta_path.insert(0, finder)

    def restore() -> None:
        _uninstall(finder)
        if not was_set:
            os.environ.pop(LEVEL_ENV, None)

    return restore
