"""Check a built HTML site in headless Chromium: console errors, broken images, broken links.

The site is served by :mod:`http.server` on ``127.0.0.1`` (an ephemeral port) and every page is
loaded in the system's Chromium (Debian's ``chromium``, or any Chrome), driven by Playwright for
Python through ``executable_path``: Playwright downloads no browser of its own.

What counts as a problem on a page (a :class:`Finding` in :attr:`PageReport.problems`):

* ``console`` — ``console.error``/``console.assert``, or an error the browser logged itself
  (except "Failed to load resource", which repeats a ``request`` finding);
* ``exception`` — an uncaught JavaScript exception;
* ``request`` — a same-origin resource answered with HTTP >= 400, or that failed to load
  (except ``/favicon.ico``, which Chromium asks every origin for unprompted);
* ``image`` — an ``<img>`` that did not load (``naturalWidth == 0`` or undecodable);
* ``link`` — an ``<a href>`` to the same origin that answers HTTP >= 400 (fragment ignored);
* ``teaching`` — on the pages named as chapters only: what a learner must find there is
  missing (objectives, the measured time, exercises with hidden solutions, launch buttons;
  :mod:`.chapter_checks`).

Nothing is fetched from another origin: Chromium resolves no host name but ``127.0.0.1`` and
sends any other traffic to a closed loopback port. Such attempts never count as problems; they
are listed in :attr:`PageReport.external` so a reader sees what the site wanted from elsewhere.

The book's tests and CI run this check (``tests/test_browser.py``); see ARCHITECTURE.md.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import http.server
import logging
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    Request,
    Response,
    sync_playwright,
)
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from chromtransfer_lib.book.chapter_checks import teaching_problems

__all__ = [
    "BrowserError",
    "Finding",
    "PageReport",
    "SiteReport",
    "check_site",
    "find_chromium",
    "list_pages",
    "serve_directory",
]

log = logging.getLogger(__name__)

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

#: Chromium's own log line for a failed request; the ``request`` finding already says it.
_NETWORK_LOG = "Failed to load resource:"

_IMAGES_JS = """async (ms) => {
  const within = (p) => Promise.race([p, new Promise((_, no) => setTimeout(no, ms))]);
  const out = [];
  for (const img of Array.from(document.images)) {
    if (img.loading === "lazy") img.loading = "eager";
    let decoded = true;
    try { await within(img.decode()); } catch (e) { decoded = false; }
    const src = img.currentSrc || img.getAttribute("src") || "";
    out.push({src: src, decoded: decoded, width: img.naturalWidth,
              svg: /\\.svg([?#]|$)|^data:image\\/svg/i.test(src)});
  }
  return out;
}"""


class BrowserError(RuntimeError):
    """Chromium could not be started, or a script in a page failed."""


def find_chromium(names: Sequence[str] = CHROMIUM_NAMES) -> Path | None:
    """The first of ``names`` found on ``PATH``, or ``None``."""
    for name in names:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


@dataclass(frozen=True)
class Finding:
    """One thing that went wrong on a page (or was attempted from another origin)."""

    page: str
    kind: str
    url: str
    detail: str

    def __str__(self) -> str:
        return f"{self.page}: {self.kind} {self.url} — {self.detail}"


@dataclass(frozen=True)
class PageReport:
    """The result of loading one page: findings, and how many images and links it has."""

    page: str
    final_url: str
    problems: tuple[Finding, ...]
    external: tuple[Finding, ...]
    images: int
    links: int
    seconds: float


@dataclass(frozen=True)
class SiteReport:
    """The result of :func:`check_site`."""

    base_url: str
    browser: str
    pages: tuple[PageReport, ...]
    screenshots: tuple[Path, ...]
    links_checked: int

    @property
    def problems(self) -> tuple[Finding, ...]:
        return tuple(f for p in self.pages for f in p.problems)

    @property
    def external(self) -> tuple[Finding, ...]:
        return tuple(f for p in self.pages for f in p.external)

    def summary(self) -> str:
        """Lines for a person: counts, then every problem and every external request."""
        lines = [
            f"{self.browser}: {len(self.pages)} pages, "
            f"{sum(p.images for p in self.pages)} images, {self.links_checked} internal links, "
            f"{len(self.problems)} problems, {len(self.external)} external requests (not counted)"
        ]
        lines += [f"  PROBLEM {f}" for f in self.problems]
        lines += [f"  external {f}" for f in self.external]
        return "\n".join(lines)


def list_pages(html_root: Path) -> list[str]:
    """Every ``*.html`` page under ``html_root`` (POSIX paths relative to it), sorted.

    Folders whose name starts with ``_`` or ``.`` (``_static``, ``_sources``, caches) hold
    templates and copies, not pages, and are skipped.
    """
    html_root = Path(html_root)
    if not (html_root / "index.html").is_file():
        raise FileNotFoundError(f"{html_root}/index.html not found: build the HTML site first")
    pages = []
    for path in html_root.rglob("*.html"):
        rel = path.relative_to(html_root)
        if not any(part.startswith(("_", ".")) for part in rel.parts[:-1]):
            pages.append(rel.as_posix())
    return sorted(pages)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http: " + format, *args)


@contextlib.contextmanager
def serve_directory(root: Path) -> Iterator[str]:
    """Serve ``root`` on ``127.0.0.1`` (ephemeral port) from a thread; yield the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="browsercheck-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _closed_local_port() -> int:
    """A loopback port nothing listens on (traffic to other origins is 'proxied' there)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _origin(url: str) -> str:
    """``scheme://host:port``; ``""`` for URLs that load nothing (data:, about:, ...)."""
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about", "javascript", "chrome-error", ""):
        return ""
    return f"{parts.scheme}://{parts.netloc}"


def _stack_url(stack: str | None, default: str) -> str:
    """The script URL of a JavaScript stack's first frame (``at URL:line:col``)."""
    match = re.search(r"\bat (?:[^\n(]*\()?(\S+?):\d+:\d+\)?", stack or "")
    return match.group(1) if match else default


class _Watcher:
    """Turns one tab's console, error and network events into findings of the current page."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.start("", "")
        page.on("request", self.on_request)
        page.on("response", self.on_response)
        page.on("requestfailed", self.on_failed)
        page.on("console", self.on_console)
        page.on("pageerror", self.on_error)

    def start(self, name: str, origin: str) -> None:
        """From now on, findings belong to page ``name`` of the site at ``origin``."""
        self.name, self.origin = name, origin
        self.problems: list[Finding] = []
        self.external: list[Finding] = []

    def add(self, kind: str, url: str, detail: str) -> None:
        """Record a finding: a problem if ``url`` is ours (or unknown), else external."""
        target = self.problems if _origin(url) in (self.origin, "") else self.external
        finding = Finding(self.name, kind, url, detail)
        if finding not in target:
            target.append(finding)

    def on_request(self, request: Request) -> None:
        if _origin(request.url) not in (self.origin, ""):
            self.add("request", request.url, "requested from another origin")

    def on_response(self, response: Response) -> None:
        if response.status >= 400 and response.url != f"{self.origin}/favicon.ico":
            self.add("request", response.url, f"HTTP {response.status}")

    def on_failed(self, request: Request) -> None:
        if request.failure and request.failure != "net::ERR_ABORTED":
            self.add("request", request.url, f"failed: {request.failure}")

    def on_console(self, msg: ConsoleMessage) -> None:
        if msg.type in ("error", "assert") and not msg.text.startswith(_NETWORK_LOG):
            self.add("console", msg.location.get("url", ""), msg.text)

    def on_error(self, err: PlaywrightError) -> None:
        detail = f"{err.name}: {err.message}" if err.name else err.message
        self.add("exception", _stack_url(err.stack, self.page.url), detail.splitlines()[0])

    def load(self, url: str, *, timeout: float) -> None:
        """Navigate to ``url``; wait for it to load, and for any meta refresh's target."""
        try:
            self.page.goto(url, wait_until="load")
        except PlaywrightTimeoutError:
            self.add("request", url, f"no load event within {timeout:.0f} s")
        except PlaywrightError as err:
            self.add("request", url, f"navigation failed: {err.message.splitlines()[0]}")
            return
        try:
            refresh = self.page.locator('meta[http-equiv="refresh" i]').count() > 0
        except PlaywrightError:  # the document went away under the query: a refresh is under way
            refresh = True
        with contextlib.suppress(PlaywrightTimeoutError):
            if refresh and self.page.url == url:  # still on the redirecting page
                self.page.wait_for_url(lambda now: now != url, wait_until="load")
            self.page.wait_for_load_state("load")


def _link_status(context: BrowserContext, url: str) -> int:
    """HTTP status of a same-origin URL (HEAD, then GET if HEAD is not allowed)."""
    status = context.request.head(url).status
    return context.request.get(url).status if status in (405, 501) else status


def _check_page(
    watcher: _Watcher, *, base: str, name: str, link_status: dict[str, int], timeout: float
) -> PageReport:
    """Load one page, wait for it (and any meta refresh), and collect its findings."""
    t0, page = time.perf_counter(), watcher.page
    watcher.start(name, _origin(base))
    watcher.load(urljoin(base, name), timeout=timeout)
    try:
        images = page.evaluate(_IMAGES_JS, int(timeout * 1000))
    except PlaywrightError as err:
        raise BrowserError(f"{name}: page script failed: {err.message.splitlines()[0]}") from err
    for img in images:
        if not img["decoded"] or (img["width"] == 0 and not img["svg"]):
            watcher.add("image", img["src"], "image did not load (naturalWidth 0 or undecodable)")
    hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
    internal = sorted({urldefrag(h).url for h in hrefs if _origin(h) == watcher.origin})
    for link in internal:
        if link not in link_status:
            link_status[link] = _link_status(page.context, link)
        if link_status[link] >= 400:
            watcher.add("link", link, f"HTTP {link_status[link]}")
    with contextlib.suppress(PlaywrightTimeoutError):  # late requests and console messages
        page.wait_for_load_state("networkidle", timeout=3000)
    seconds = time.perf_counter() - t0
    log.info("%s: %d problems (%.1f s)", name, len(watcher.problems), seconds)
    problems, external = tuple(watcher.problems), tuple(watcher.external)
    return PageReport(name, page.url, problems, external, len(images), len(internal), seconds)


def _screenshot(page: Page, png: Path, *, full_page: bool, max_height: int) -> Path:
    """Save what ``page`` shows: its viewport, or the whole page cut at ``max_height``."""
    png.parent.mkdir(parents=True, exist_ok=True)
    width = page.viewport_size["width"] if page.viewport_size else 1280
    clip = {"x": 0, "y": 0, "width": width, "height": max_height} if full_page else None
    page.screenshot(path=png, full_page=full_page, clip=clip)
    return png


def _launch(pw: Playwright, chromium: Path, *, timeout: float) -> Browser:
    """Start ``chromium`` headless, resolving no host but 127.0.0.1, proxied to a closed port."""
    isolate = [
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        f"--proxy-server=http://127.0.0.1:{_closed_local_port()}",
    ]
    try:
        return pw.chromium.launch(executable_path=chromium, args=isolate, timeout=timeout * 1000)
    except PlaywrightError as err:
        raise BrowserError(f"could not start {chromium}: {err.message}") from err


def check_site(
    html_root: Path,
    *,
    chromium: Path,
    pages: Sequence[str] | None = None,
    screenshots: Mapping[str, Path] | None = None,
    viewport: tuple[int, int] = (1280, 900),
    full_page: bool = False,
    max_height: int = 12000,
    timeout: float = 30.0,
    chapter_pages: Sequence[str] = (),
    launch_buttons: bool | None = None,
) -> SiteReport:
    """Serve ``html_root`` on 127.0.0.1 and load every page in headless Chromium.

    Parameters
    ----------
    html_root
        The built site (the folder with ``index.html``); served read-only.
    chromium
        The Chromium (or Chrome) executable; see :func:`find_chromium`.
    pages
        Paths relative to ``html_root`` to load, in order; default :func:`list_pages`.
    screenshots
        ``{page: png_path}``: after checking ``page`` (one of ``pages``), save a PNG of what
        it shows (after any ``<meta http-equiv="refresh">`` redirect) to ``png_path``.
    viewport
        Window ``(width, height)`` in CSS pixels.
    full_page, max_height
        Screenshots show the whole page, cut at ``max_height`` CSS pixels, instead of the
        viewport.
    timeout
        Seconds to wait for Chromium to start, and for each page and its images to load.
    chapter_pages
        Pages (of ``pages``) that are book chapters: each is also checked for what a learner
        must find there (:func:`.chapter_checks.teaching_problems`), after its screenshot.
    launch_buttons
        On chapter pages: ``True`` requires a launch button opening the page's notebook,
        ``False`` requires none, ``None`` checks neither.

    Returns
    -------
    SiteReport
        Per page: problems on the site's own origin (console errors, uncaught exceptions,
        failed requests, broken images, internal links answering >= 400) and requests to
        other origins (listed, not counted); the screenshots written; the number of distinct
        internal links checked.

    Raises
    ------
    BrowserError
        Chromium could not be started, or a script the check runs in a page failed.
    """
    html_root = Path(html_root)
    pages = list(pages) if pages is not None else list_pages(html_root)
    shots = {page: Path(png) for page, png in (screenshots or {}).items()}
    if unknown := set(shots) - set(pages):
        raise ValueError(f"screenshots asked for pages that are not checked: {sorted(unknown)}")
    if unknown := set(chapter_pages) - set(pages):
        raise ValueError(f"chapter pages that are not checked: {sorted(unknown)}")
    link_status: dict[str, int] = {}
    reports, written = [], []
    with serve_directory(html_root) as base, sync_playwright() as pw:
        browser = _launch(pw, Path(chromium), timeout=timeout)
        width, height = viewport
        context = browser.new_context(viewport={"width": width, "height": height})
        context.set_default_timeout(timeout * 1000)
        watcher = _Watcher(context.new_page())
        for name in pages:
            check = {"base": base, "name": name, "link_status": link_status, "timeout": timeout}
            reports.append(_check_page(watcher, **check))
            if name in shots:
                png, page = shots[name], watcher.page
                written.append(_screenshot(page, png, full_page=full_page, max_height=max_height))
            if name in chapter_pages:
                found = teaching_problems(
                    watcher.page, name, launch_buttons=launch_buttons, timeout=timeout
                )
                extra = tuple(Finding(name, "teaching", urljoin(base, name), f) for f in found)
                reports[-1] = dataclasses.replace(
                    reports[-1], problems=reports[-1].problems + extra
                )
        version = f"Chromium {browser.version}"
        browser.close()
    return SiteReport(base, version, tuple(reports), tuple(written), len(link_status))
