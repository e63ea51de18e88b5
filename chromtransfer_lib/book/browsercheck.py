"""Check a built HTML site in headless Chromium: console errors, broken images, broken links.

The site is served by :mod:`http.server` on ``127.0.0.1`` (an ephemeral port) and every page is
loaded in a real Chromium, driven through the DevTools protocol (:mod:`chromtransfer_lib.book.cdp`).

What counts as a problem on a page (a :class:`Finding` in :attr:`PageReport.problems`):

* ``console`` — ``console.error``/``console.assert``, or an error the browser logged itself;
* ``exception`` — an uncaught JavaScript exception;
* ``request`` — a same-origin resource answered with HTTP >= 400, or that failed to load
  (except ``/favicon.ico``, which Chromium asks every origin for unprompted);
* ``image`` — an ``<img>`` that did not load (``naturalWidth == 0`` or undecodable);
* ``link`` — an ``<a href>`` to the same origin that answers HTTP >= 400 (fragment ignored).

Nothing is fetched from another origin: Chromium resolves no host name but ``127.0.0.1`` and
sends any other traffic to a closed loopback port. Such attempts never count as problems; they
are listed in :attr:`PageReport.external` so a reader sees what the site wanted from elsewhere.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import http.server
import logging
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

from chromtransfer_lib.book.cdp import BrowserError, ChromiumPipe, Event, find_chromium

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

_IMAGES_JS = """(async () => {
  const within = (p, ms) => Promise.race([p, new Promise((_, no) => setTimeout(no, ms))]);
  const out = [];
  for (const img of Array.from(document.images)) {
    if (img.loading === "lazy") img.loading = "eager";
    let decoded = true;
    try { await within(img.decode(), %d); } catch (e) { decoded = false; }
    const src = img.currentSrc || img.getAttribute("src") || "";
    out.push({src: src, decoded: decoded, width: img.naturalWidth,
              svg: /\\.svg([?#]|$)|^data:image\\/svg/i.test(src)});
  }
  return out;
})()"""

_LINKS_JS = "Array.from(document.querySelectorAll('a[href]'), a => a.href)"

_DOCUMENT_JS = """({ready: document.readyState,
  refresh: !!document.querySelector('meta[http-equiv="refresh" i]')})"""


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


@dataclass
class _PageState:
    page: str
    origin: str
    problems: list[Finding] = field(default_factory=list)
    external: list[Finding] = field(default_factory=list)

    def add(self, kind: str, url: str, detail: str) -> None:
        """Record a finding: a problem if ``url`` is ours (or unknown), else external."""
        target = self.problems if _origin(url) in (self.origin, "") else self.external
        finding = Finding(self.page, kind, url, detail)
        if finding not in target:
            target.append(finding)


def _first_frame_url(stack: Mapping[str, Any] | None) -> str:
    frames = (stack or {}).get("callFrames") or []
    return frames[0].get("url", "") if frames else ""


def _read_events(state: _PageState, events: Sequence[Event]) -> None:
    """Turn the DevTools events seen while a page loaded into findings."""
    requests: dict[str, str] = {}
    for ev in events:
        method, p = ev.get("method", ""), ev.get("params", {})
        if method == "Network.requestWillBeSent":
            url = p["request"]["url"]
            requests[p["requestId"]] = url
            if _origin(url) not in (state.origin, ""):
                state.add("request", url, "requested from another origin")
        elif method == "Network.responseReceived":
            status, url = p["response"]["status"], p["response"]["url"]
            if status >= 400 and url != f"{state.origin}/favicon.ico":
                state.add("request", url, f"HTTP {status}")
        elif method == "Network.loadingFailed" and not p.get("canceled"):
            url = requests.get(p["requestId"], "")
            if url and p.get("errorText") != "net::ERR_ABORTED":
                state.add("request", url, f"failed: {p.get('errorText')}")
        elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            text = " ".join(
                str(a.get("value", a.get("description", a.get("type", "")))) for a in p["args"]
            )
            state.add("console", _first_frame_url(p.get("stackTrace")), text)
        elif method == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            url = d.get("url") or _first_frame_url(d.get("stackTrace"))
            detail = (d.get("exception") or {}).get("description") or d.get("text") or "?"
            state.add("exception", url, detail.splitlines()[0])
        elif method == "Log.entryAdded":
            entry = p["entry"]
            # "network" entries repeat what Network.responseReceived/loadingFailed reported
            if entry.get("level") == "error" and entry.get("source") != "network":
                state.add("console", entry.get("url", ""), entry.get("text", ""))


def _http_status(url: str, opener: urllib.request.OpenerDirector, timeout: float) -> int:
    """HTTP status of a same-origin URL (HEAD, then GET if HEAD is not allowed)."""
    status = 0
    for method in ("HEAD", "GET"):
        try:
            with opener.open(urllib.request.Request(url, method=method), timeout=timeout) as r:
                return r.status
        except urllib.error.HTTPError as err:
            status = err.code
            if status not in (405, 501):
                return status
    return status


def _evaluate(cdp: ChromiumPipe, session: str, expression: str) -> Any:
    """Evaluate ``expression`` in the page (awaiting a promise); return its JSON value."""
    res = cdp.call(
        "Runtime.evaluate",
        {"expression": expression, "awaitPromise": True, "returnByValue": True},
        session=session,
    )
    if "exceptionDetails" in res:
        raise BrowserError(f"page script failed: {res['exceptionDetails'].get('text')}")
    return res.get("result", {}).get("value")


def _check_page(
    cdp: ChromiumPipe,
    session: str,
    *,
    base: str,
    page: str,
    link_status: dict[str, int],
    opener: urllib.request.OpenerDirector,
    timeout: float,
) -> PageReport:
    """Load one page, wait for it (and any meta refresh), and collect its findings."""
    t0 = time.perf_counter()
    state = _PageState(page, _origin(base))
    url = urljoin(base, page)
    cdp.discard_events()
    events: list[Event] = []
    nav = cdp.call("Page.navigate", {"url": url}, session=session)
    if nav.get("errorText"):
        state.add("request", url, f"navigation failed: {nav['errorText']}")
    elif not cdp.wait_event("Page.loadEventFired", timeout=timeout, seen=events):
        state.add("request", url, f"no load event within {timeout:.0f} s")
    doc = _evaluate(cdp, session, _DOCUMENT_JS)
    if doc["refresh"]:  # still on the redirecting page: wait for its target to load
        cdp.wait_event("Page.frameNavigated", timeout=timeout, seen=events)
        cdp.wait_event("Page.loadEventFired", timeout=timeout, seen=events)
    elif doc["ready"] != "complete":  # already redirected, target still loading
        cdp.wait_event("Page.loadEventFired", timeout=timeout, seen=events)
    images = _evaluate(cdp, session, _IMAGES_JS % int(timeout * 1000)) or []
    for img in images:
        if not img["decoded"] or (img["width"] == 0 and not img["svg"]):
            state.add("image", img["src"], "image did not load (naturalWidth 0 or undecodable)")
    hrefs = _evaluate(cdp, session, _LINKS_JS) or []
    internal = sorted({urldefrag(h).url for h in hrefs if _origin(h) == state.origin})
    for link in internal:
        if link not in link_status:
            link_status[link] = _http_status(link, opener, timeout)
        if link_status[link] >= 400:
            state.add("link", link, f"HTTP {link_status[link]}")
    cdp.collect_until_quiet(events, quiet=0.3, limit=3.0)
    _read_events(state, events)
    final_url = _evaluate(cdp, session, "location.href") or url
    seconds = time.perf_counter() - t0
    log.info("%s: %d problems (%.1f s)", page, len(state.problems), seconds)
    return PageReport(
        page,
        final_url,
        tuple(state.problems),
        tuple(state.external),
        len(images),
        len(internal),
        seconds,
    )


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
        Seconds to wait for Chromium to answer, and for each page and its images to load.

    Returns
    -------
    SiteReport
        Per page: problems on the site's own origin (console errors, uncaught exceptions,
        failed requests, broken images, internal links answering >= 400) and requests to
        other origins (listed, not counted); the screenshots written; the number of distinct
        internal links checked.
    """
    html_root = Path(html_root)
    pages = list(pages) if pages is not None else list_pages(html_root)
    shots = {page: Path(png) for page, png in (screenshots or {}).items()}
    if unknown := set(shots) - set(pages):
        raise ValueError(f"screenshots asked for pages that are not checked: {sorted(unknown)}")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # ignore *_proxy env
    link_status: dict[str, int] = {}
    reports, written = [], []
    isolate = (
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        f"--proxy-server=http://127.0.0.1:{_closed_local_port()}",
    )
    with (
        serve_directory(html_root) as base,
        tempfile.TemporaryDirectory(prefix="browsercheck-") as tmp,
        ChromiumPipe(
            Path(chromium), user_data_dir=Path(tmp), extra_flags=isolate, timeout=timeout
        ) as cdp,
    ):
        browser = cdp.call("Browser.getVersion").get("product", str(chromium))
        target = cdp.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        attached = cdp.call("Target.attachToTarget", {"targetId": target, "flatten": True})
        session = attached["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            cdp.call(f"{domain}.enable", session=session)
        width, height = viewport
        cdp.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            session=session,
        )
        for page in pages:
            reports.append(
                _check_page(
                    cdp,
                    session,
                    base=base,
                    page=page,
                    link_status=link_status,
                    opener=opener,
                    timeout=timeout,
                )
            )
            if page in shots:
                params: dict[str, Any] = {"format": "png"}
                if full_page:
                    size = cdp.call("Page.getLayoutMetrics", session=session)["cssContentSize"]
                    params["captureBeyondViewport"] = True
                    params["clip"] = {
                        "x": 0,
                        "y": 0,
                        "width": width,
                        "height": min(size["height"], max_height),
                        "scale": 1,
                    }
                png = cdp.call("Page.captureScreenshot", params, session=session)
                shots[page].parent.mkdir(parents=True, exist_ok=True)
                shots[page].write_bytes(base64.b64decode(png["data"]))
                written.append(shots[page])
    return SiteReport(base, browser, tuple(reports), tuple(written), len(link_status))
