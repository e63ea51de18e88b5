"""A minimal Chrome DevTools Protocol client over Chromium's ``--remote-debugging-pipe``.

Chromium reads JSON commands from file descriptor 3 and writes replies and events to file
descriptor 4, each message ending in a NUL byte. Driving it this way needs no Python package,
no Node driver and no debugging port, and works with any Chromium or Chrome recent enough to
have the stable ``Target``, ``Page``, ``Runtime``, ``Log`` and ``Network`` domains.

Used by :mod:`chromtransfer_lib.book.browsercheck`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

log = logging.getLogger(__name__)

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

#: Headless, no sandbox (containers run as root), and none of Chromium's own background traffic.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
    "--remote-debugging-pipe",
)

Event = dict[str, Any]


class BrowserError(RuntimeError):
    """Chromium could not be started, stopped answering, or refused a command."""


def find_chromium(names: Sequence[str] = CHROMIUM_NAMES) -> Path | None:
    """The first of ``names`` found on ``PATH``, or ``None``."""
    for name in names:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


class ChromiumPipe:
    """A headless Chromium process and a DevTools connection to it.

    Parameters
    ----------
    chromium
        The executable (``/usr/bin/chromium``, a Chrome binary, or a wrapper script).
    user_data_dir
        A fresh, writable folder for the browser profile; Chromium's output goes to
        ``user_data_dir/chromium.log``, quoted in every :class:`BrowserError`.
    extra_flags
        Added after :data:`CHROMIUM_FLAGS`.
    timeout
        Seconds to wait for the reply to each command.

    Use as a context manager; :meth:`close` closes the browser (killing it if it hangs).
    """

    def __init__(
        self,
        chromium: Path,
        *,
        user_data_dir: Path,
        extra_flags: Sequence[str] = (),
        timeout: float = 30.0,
    ) -> None:
        self.timeout = timeout
        self.events: queue.Queue[Event] = queue.Queue()
        self._replies: dict[int, Event] = {}
        self._cond = threading.Condition()
        self._write_lock = threading.Lock()
        self._next_id = 0
        self._closed = False
        user_data_dir = Path(user_data_dir)
        user_data_dir.mkdir(parents=True, exist_ok=True)
        self._log_path = user_data_dir / "chromium.log"
        to_child_r, self._write_fd = os.pipe()
        self._read_fd, from_child_w = os.pipe()
        # The child's ends go above 9 so the 3</4> redirections below cannot clobber them
        # (bash, not sh: dash cannot name descriptors above 9).
        child_r = fcntl.fcntl(to_child_r, fcntl.F_DUPFD, 10)
        child_w = fcntl.fcntl(from_child_w, fcntl.F_DUPFD, 10)
        os.close(to_child_r)
        os.close(from_child_w)
        flags = [
            *CHROMIUM_FLAGS,
            f"--user-data-dir={user_data_dir / 'profile'}",
            *extra_flags,
            "about:blank",
        ]
        script = f'exec "$0" "$@" 3<&{child_r} 4>&{child_w}'
        try:
            with open(self._log_path, "wb") as out:
                self.proc = subprocess.Popen(
                    [shutil.which("bash") or "/bin/bash", "-c", script, str(chromium), *flags],
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=out,
                    pass_fds=(child_r, child_w),
                )
        except OSError as err:
            os.close(self._write_fd)
            os.close(self._read_fd)
            raise BrowserError(f"could not start {chromium}: {err}") from err
        finally:
            os.close(child_r)
            os.close(child_w)
        self._reader = threading.Thread(target=self._read_loop, name="cdp-reader", daemon=True)
        self._reader.start()

    def __enter__(self) -> ChromiumPipe:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _read_loop(self) -> None:
        buf = b""
        while True:
            try:
                chunk = os.read(self._read_fd, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                break
            *messages, buf = (buf + chunk).split(b"\0")
            for raw in messages:
                try:
                    msg = json.loads(raw)
                except json.JSONDecodeError:
                    log.warning("cdp: undecodable message %r", raw[:200])
                    continue
                if "id" in msg:
                    with self._cond:
                        self._replies[msg["id"]] = msg
                        self._cond.notify_all()
                else:
                    self.events.put(msg)
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def browser_log(self) -> str:
        """The last 2,000 characters Chromium wrote to stdout/stderr."""
        with contextlib.suppress(OSError):
            return self._log_path.read_text(errors="replace")[-2000:]
        return ""

    def call(
        self, method: str, params: Mapping[str, Any] | None = None, *, session: str | None = None
    ) -> dict[str, Any]:
        """Send one command (to a target's ``session`` if given); return its ``result``."""
        with self._cond:
            self._next_id += 1
            msg_id = self._next_id
        msg: Event = {"id": msg_id, "method": method, "params": dict(params or {})}
        if session:
            msg["sessionId"] = session
        try:
            with self._write_lock:
                os.write(self._write_fd, json.dumps(msg).encode() + b"\0")
        except OSError as err:
            raise BrowserError(
                f"Chromium is gone ({err}); its output:\n{self.browser_log()}"
            ) from err
        deadline = time.monotonic() + self.timeout
        with self._cond:
            while msg_id not in self._replies:
                left = deadline - time.monotonic()
                if self._closed or left <= 0:
                    why = "exited" if self._closed else f"did not answer in {self.timeout:.0f} s"
                    raise BrowserError(
                        f"Chromium {why} (during {method}); its output:\n{self.browser_log()}"
                    )
                self._cond.wait(left)
            reply = self._replies.pop(msg_id)
        if "error" in reply:
            raise BrowserError(f"{method} failed: {reply['error']}")
        return reply.get("result", {})

    def discard_events(self) -> None:
        """Drop every event received so far."""
        with contextlib.suppress(queue.Empty):
            while True:
                self.events.get_nowait()

    def wait_event(self, method: str, *, timeout: float, seen: list[Event]) -> bool:
        """Append events to ``seen`` until ``method`` arrives (True) or ``timeout`` s (False)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                return False
            seen.append(event)
            if event.get("method") == method:
                return True
        return False

    def collect_until_quiet(self, seen: list[Event], *, quiet: float, limit: float) -> None:
        """Append events to ``seen`` until none came for ``quiet`` s (at most ``limit`` s)."""
        deadline = time.monotonic() + limit
        while (left := deadline - time.monotonic()) > 0:
            try:
                seen.append(self.events.get(timeout=min(quiet, left)))
            except queue.Empty:
                return

    def close(self) -> None:
        """Ask Chromium to close; kill it if it has not exited within 10 s."""
        if self.proc.poll() is None:
            self.timeout = 5.0
            with contextlib.suppress(BrowserError):
                self.call("Browser.close")
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        for fd in (self._write_fd, self._read_fd):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._reader.join(timeout=5)
