"""The rendered book, checked in a real (headless) Chromium driven by Playwright.

The first tests plant every kind of defect in a tiny site and check that the checker reports
exactly those (and nothing on clean pages), so the book test below cannot pass by seeing
nothing. Without Chromium they skip and say how to get it (``.ci/run`` installs it).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from chromtransfer_lib.book.browsercheck import (
    BrowserError,
    check_site,
    list_pages,
)

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts" / "browser"


def _page(body: str, head: str = "") -> str:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'>{head}</head><body>{body}</body></html>"
    )


def _planted_site(root: Path) -> Path:
    (root / "sub").mkdir(parents=True)
    Image.new("RGB", (7, 5), (200, 30, 30)).save(root / "dot.png")
    (root / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not an image")
    # no intrinsic size: naturalWidth is 0 although it renders; must not count as broken
    (root / "sized_by_css.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">'
        '<circle r="4" cx="5" cy="5"/></svg>'
    )
    (root / "index.html").write_text(
        _page(
            '<img src="dot.png"><img src="sized_by_css.svg" style="width:40px">'
            '<img src="data:image/png;base64,'
            'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==">'
            '<a href="sub/page.html#part">sub</a> <a href="sub/">folder</a> <a href="#top">top</a>'
            ' <a href="mailto:someone@example.org">mail</a>'
            ' <a href="https://external.invalid/elsewhere.html">not followed</a>'
            "<script>console.log('fine'); console.warn('only a warning');</script>"
        )
    )
    (root / "sub" / "index.html").write_text(_page("<p>folder index</p>"))
    (root / "sub" / "page.html").write_text(
        _page('<h1 id="part">part</h1><a href="../index.html">home</a><img src="../dot.png">')
    )
    (root / "redirect.html").write_text(
        _page("moving", head='<meta http-equiv="refresh" content="0; url=sub/page.html">')
    )
    (root / "broken.html").write_text(
        _page(
            '<img src="missing.png"><img src="corrupt.png" loading="lazy">'
            '<img src="https://external.invalid/logo.png">'
            '<a href="nowhere.html#x">dead</a> <a href="sub/page.html">alive</a>'
            '<script src="missing.js"></script>'
            '<script src="https://external.invalid/lib.js"></script>'
            "<script>console.error('planted console error');"
            "console.assert(1 === 2, 'planted assertion');"
            "setTimeout(() => console.error('late console error'), 150);</script>"
            "<script>throw new TypeError('planted exception');</script>",
            head='<link rel="stylesheet" href="missing.css">',
        )
    )
    return root


def test_checker_reports_planted_defects_and_nothing_else(tmp_path: Path, chromium: Path) -> None:
    site = _planted_site(tmp_path / "site")
    shot = tmp_path / "shots" / "redirect.png"
    report = check_site(
        site, chromium=chromium, screenshots={"redirect.html": shot}, viewport=(640, 480)
    )
    assert report.browser.startswith("Chromium ")
    pages = {p.page: p for p in report.pages}
    assert (
        list(pages)
        == list_pages(site)
        == [
            "broken.html",
            "index.html",
            "redirect.html",
            "sub/index.html",
            "sub/page.html",
        ]
    )
    for clean in ("index.html", "redirect.html", "sub/index.html", "sub/page.html"):
        assert pages[clean].problems == (), report.summary()
        assert pages[clean].external == (), report.summary()
    assert pages["index.html"].images == 3
    assert pages["index.html"].links == 3  # sub/page.html, sub/, index.html (#top); no mailto
    assert pages["redirect.html"].final_url.endswith("/sub/page.html")

    broken = pages["broken.html"]
    found = {(f.kind, f.url.removeprefix(report.base_url), f.detail) for f in broken.problems}
    assert found == {
        ("image", "missing.png", "image did not load (naturalWidth 0 or undecodable)"),
        ("image", "corrupt.png", "image did not load (naturalWidth 0 or undecodable)"),
        ("request", "missing.png", "HTTP 404"),
        ("request", "missing.js", "HTTP 404"),
        ("request", "missing.css", "HTTP 404"),
        ("link", "nowhere.html", "HTTP 404"),
        ("console", "broken.html", "planted console error"),
        ("console", "broken.html", "planted assertion"),
        ("console", "broken.html", "late console error"),
        ("exception", "broken.html", "TypeError: planted exception"),
    }, report.summary()
    # other origins: listed, never fetched, never problems
    assert {f.url for f in broken.external} == {
        "https://external.invalid/logo.png",
        "https://external.invalid/lib.js",
    }
    assert all(report.base_url not in f.url for f in report.external)
    assert len(report.problems) == len(found)
    # distinct internal links: sub/page.html, sub/, index.html, nowhere.html
    assert report.links_checked == 4

    assert report.screenshots == (shot,)
    with Image.open(shot) as img:
        assert img.format == "PNG" and img.size == (640, 480)
        # the redirect target shows the red 7x5 dot: the screenshot is of the final page
        assert (200, 30, 30) in {c for _, c in img.convert("RGB").getcolors(1 << 16)}


def test_not_a_browser_is_a_browser_error(tmp_path: Path) -> None:
    """A CHROMIUM that is no browser fails with BrowserError naming it, not a hang."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text(_page("<p>x</p>"))
    fake = tmp_path / "not-chromium"
    fake.write_text("#!/bin/sh\necho 'I am no browser' >&2\nexit 3\n")
    fake.chmod(0o755)
    with pytest.raises(BrowserError, match="not-chromium"):
        check_site(site, chromium=fake, timeout=20)


_TOGGLE = (
    "<style>.toggle-hidden > :not(.admonition-title) {display: none}</style>"
    "<script>document.querySelectorAll('button.toggle-button').forEach((b) => b.addEventListener("
    "'click', () => b.closest('.solution').classList.toggle('toggle-hidden')));</script>"
)


def _exercise(label: str) -> str:
    return (
        f'<div class="exercise admonition" id="{label}"><p class="admonition-title">Exercise</p>'
        "<section><p>Change one parameter.</p></section></div>"
    )


def _solution(label: str, *, hidden: bool = True, button: bool = True) -> str:
    """A solution as sphinx-exercise + sphinx-togglebutton render it (``:class: dropdown``)."""
    state = " toggle toggle-hidden" if hidden else ""
    toggle = '<button type="button" class="toggle-button">show</button>' if button else ""
    return (
        f'<div class="solution dropdown admonition{state}"><p class="admonition-title">'
        f'Solution to<a class="reference internal" href="#{label}"> Exercise</a>{toggle}</p>'
        "<section><p>The answer.</p></section></div>"
    )


def _chapter_site(root: Path) -> Path:
    (root / "book" / "chapters").mkdir(parents=True)
    (root / "index.html").write_text(_page('<a href="book/chapters/good.html">good</a>'))
    objectives = (
        '<div class="objectives admonition"><p class="admonition-title">Learning objectives</p>'
        "<ul><li>one</li><li>two</li><li>three</li></ul></div>"
    )
    launch = (  # the theme's launch menu (Bootstrap moves the links' titles into tooltips)
        '<div class="dropdown dropdown-launch-buttons"><ul class="dropdown-menu"><li>'
        '<a href="https://mybinder.invalid/v2/gh/acme/b/main'
        '?urlpath=lab/tree/book/chapters/{}.ipynb">Binder</a></li></ul></div>'
    )
    (root / "book" / "chapters" / "good.html").write_text(
        _page(
            objectives + '<p><strong>Time:</strong> <span class="pasted-text">0.4</span> min '
            '(<span class="pasted-text">25</span> s)</p>'
            + _exercise("ex-a")
            + _exercise("ex-b")
            + _solution("ex-a")
            + _solution("ex-b")
            + launch.format("good")
            + _TOGGLE
        )
    )
    (root / "book" / "chapters" / "bad.html").write_text(
        _page(
            "<p><strong>Time:</strong> took {glue:text} minutes</p>"
            + _exercise("ex-x")
            + _exercise("ex-y")
            + _solution("ex-x", hidden=False)
            + _solution("ex-x", button=False)
            + launch.format("other")
            + _TOGGLE
        )
    )
    return root


def test_chapter_checks_find_what_a_learner_would_miss(tmp_path: Path, chromium: Path) -> None:
    """On a planted chapter page with everything, no teaching finding (and its solutions open on
    a click); on one lacking each piece, exactly one finding per missing piece."""
    site = _chapter_site(tmp_path / "site")
    pages = ["book/chapters/bad.html", "book/chapters/good.html"]
    report = check_site(site, chromium=chromium, chapter_pages=pages, launch_buttons=True)
    by_page = {p.page: p for p in report.pages}
    assert by_page["book/chapters/good.html"].problems == (), report.summary()
    assert by_page["index.html"].problems == ()
    found = {f.detail for f in by_page["book/chapters/bad.html"].problems}
    assert {f.kind for f in by_page["book/chapters/bad.html"].problems} == {"teaching"}
    assert found == {
        "no learning objectives (.admonition.objectives)",
        "the 'Time:' paragraph shows no measured number: []",
        "a glue role is printed raw ('{glue' in the text)",
        "exercise(s) without a solution: ex-y",
        "solution 1 is visible before it is clicked",
        "solution 2 has no toggle button: it can never be opened",
        "no launch button opening book/chapters/bad.ipynb (found "
        "['https://mybinder.invalid/v2/gh/acme/b/main?urlpath=lab/tree/book/chapters/other.ipynb'])",
    }, report.summary()
    # without a repository the book must show no launch button at all
    good = ["book/chapters/good.html"]
    again = check_site(
        site, chromium=chromium, pages=good, chapter_pages=good, launch_buttons=False
    )
    assert [f.detail for f in again.problems] == [
        "launch buttons without a repository: "
        "['https://mybinder.invalid/v2/gh/acme/b/main?urlpath=lab/tree/book/chapters/good.ipynb']"
    ]
