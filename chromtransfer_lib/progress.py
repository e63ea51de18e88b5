"""Progress bars on a terminal or in Jupyter, never in a log file: the library's one tqdm factory.

Every progress bar of the library comes from :func:`progress_bar`. A bar is drawn when

* the caller asks for one (``enabled``: a function's ``progress=`` / ``verbose=``),
* ``TQDM_DISABLE`` is unset, empty or ``0`` / ``false`` / ``no`` / ``off``, and
* its stream (``file=``, default ``sys.stderr``) is a terminal, or the process is a Jupyter
  kernel (where ``tqdm.auto`` draws a widget, or a text bar without ipywidgets; the book's
  chapters run in one under papermill, and the HTML build drops stderr).

Elsewhere (``chromtransfer finetune ... 2>&1 | tee log``, CI, worker processes) bars are off:
a carriage-return redraw per batch is noise in a file, and training logs one line per epoch
(:mod:`chromtransfer_lib.models.train`) instead.

``TQDM_DISABLE`` is read here, at each call, because tqdm's own reading of it does not reach
the library's bars: tqdm reads its ``TQDM_*`` variables once, when it is imported, and only
for arguments its caller leaves out, and every bar here passes ``disable=``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any, TextIO

from tqdm.auto import tqdm

__all__ = ["DISABLE_ENV", "bars_enabled", "progress_bar"]

#: The environment variable that switches every bar off (tqdm's own name for it).
DISABLE_ENV = "TQDM_DISABLE"

_FALSE = ("", "0", "false", "no", "off")


def _in_jupyter() -> bool:
    """Whether this process is a Jupyter kernel (tqdm.auto's own first test)."""
    return "ipykernel.zmqshell" in sys.modules


def _is_terminal(stream: TextIO | None) -> bool:
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return False


def bars_enabled(enabled: bool = True, *, file: TextIO | None = None) -> bool:
    """Whether a bar asked for with ``enabled`` is drawn on ``file`` (default ``sys.stderr``).

    Parameters
    ----------
    enabled
        The caller's wish (``progress=`` / ``verbose=``); ``False`` always wins.
    file
        The stream the bar writes to.
    """
    if not enabled:
        return False
    if os.environ.get(DISABLE_ENV, "").strip().lower() not in _FALSE:
        return False
    return _in_jupyter() or _is_terminal(sys.stderr if file is None else file)


def progress_bar(iterable: Iterable[Any] | None = None, *, enabled: bool = True, **tqdm_kwargs):
    """A ``tqdm.auto`` bar over ``iterable`` (or a manual one: ``total=``, ``.update()``),
    disabled unless :func:`bars_enabled` says so.

    A disabled bar still iterates, counts and accepts ``update``, ``set_postfix`` and
    ``close``; it writes nothing.

    Parameters
    ----------
    iterable
        What to iterate over, or ``None`` for a bar updated by hand.
    enabled
        The caller's wish (``progress=`` / ``verbose=``).
    **tqdm_kwargs
        Passed to tqdm (``desc``, ``unit``, ``total``, ``leave``, ``file``, ...); not
        ``disable``, which this function decides.
    """
    if "disable" in tqdm_kwargs:
        raise TypeError("progress_bar() decides 'disable' itself; pass enabled= instead")
    disable = not bars_enabled(enabled, file=tqdm_kwargs.get("file"))
    return tqdm(iterable, disable=disable, **tqdm_kwargs)
