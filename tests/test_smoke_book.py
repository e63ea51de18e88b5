"""Everything that needs the smoke book: the whole book at the smoke profile, run once per
session through the same runner users call (the ``smoke_book`` fixture in ``conftest.py``).

They share this one file so that ``make test`` (pytest-xdist, ``--dist loadfile``) builds the
book in one worker, once, while the other worker runs the rest of the suite.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from conftest import TABLE_CHAPTERS
from PIL import Image
from test_browser import ARTIFACTS
from test_chapter_prose import missing_glue

from chromtransfer_lib.book import stages
from chromtransfer_lib.book.browsercheck import check_site, list_pages
from chromtransfer_lib.book.runner import repository_url


@pytest.mark.notebook
def test_smoke_book_builds_with_figures(smoke_book) -> None:
    result, html_root = smoke_book.result, smoke_book.html_root
    assert result.index_html is not None and result.index_html.is_file()
    for chapter in result.chapters:
        page = html_root / "book" / "chapters" / f"{chapter.name}.html"
        assert page.is_file(), page
        html = page.read_text()
        images = re.findall(r'<img[^>]+src="([^"]+)"', html)
        assert images or chapter.name in TABLE_CHAPTERS, f"{chapter.name} shows no figure"
        for src in images:
            if src.startswith("data:"):
                continue
            assert (page.parent / src).resolve().is_file(), f"{chapter.name}: missing {src}"
        assert "Traceback" not in html, f"{chapter.name} rendered an exception"
    assert (result.run_dir / "book_timings.csv").is_file()


@pytest.mark.notebook
def test_every_role_is_glued_in_the_smoke_book(smoke_book) -> None:
    for chapter in smoke_book.result.chapters:
        assert missing_glue(chapter.executed) == set(), chapter.name


@pytest.mark.notebook
def test_smoke_book_in_browser(chromium: Path, request: pytest.FixtureRequest) -> None:
    book = request.getfixturevalue("smoke_book")  # build only once Chromium is known to exist
    chapters = [c.name for c in book.result.chapters]
    assert chapters, "the smoke book has no chapter"
    shots = {
        "index.html": ARTIFACTS / "intro.png",
        f"book/chapters/{chapters[0]}.html": ARTIFACTS / f"{chapters[0]}.png",
    }
    # every chapter: objectives, its measured time, exercises with collapsed solutions, and
    # launch buttons exactly when the book knows its repository (CHROMTRANSFER_REPO_URL, origin)
    report = check_site(
        book.html_root, chromium=chromium, screenshots=shots, full_page=True,
        chapter_pages=[f"book/chapters/{name}.html" for name in chapters],
        launch_buttons=repository_url(book.root) is not None,
    )  # fmt: skip
    summary = report.summary()
    (ARTIFACTS / "report.txt").write_text(summary + "\n")
    print(summary)
    for png in report.screenshots:
        print(f"screenshot: {png}")

    checked = {p.page: p for p in report.pages}
    assert set(checked) == set(list_pages(book.html_root))
    assert checked["index.html"].final_url.endswith("/book/intro.html")
    for name in chapters:
        page = checked[f"book/chapters/{name}.html"]
        assert page.images > 0 or name in TABLE_CHAPTERS, f"{name}: no figure reached the browser"
        assert page.links > 0, f"{name}: no internal link (navigation missing?)"
    assert not report.problems, report.summary()
    assert set(report.screenshots) == set(shots.values())
    for png in report.screenshots:
        with Image.open(png) as img:
            assert img.width == 1280 and img.height >= 900
            # a blank or single-colour page would mean nothing rendered
            assert len(img.convert("RGB").getcolors(1 << 20) or []) > 50, png


def test_the_book_lists_every_job_and_its_chapters_only_load_them(smoke_book, tmp_path) -> None:
    """The smoke book trained its jobs on worker processes (smoke ``workers: 0``); a fresh run
    directory lists them all, the book's own lists none, and the chapters' calls only load."""

    run_dir = smoke_book.result.run_dir
    ctx = stages.RunContext.create("smoke", run_dir)
    assert ctx.profile.workers == 0  # the book's training went through run_jobs
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    for name in ("world", "datasets"):
        shutil.copytree(run_dir / name, fresh / name)
    before = stages.pending_jobs(stages.RunContext.create("smoke", fresh), bootstrap=True)
    # 12 line models + multiclass, and the smoke grid: 2 fractions of ChromTransfer + 1 baseline
    assert sum(j.kind == "line" for j in before) == 12
    assert [j.kind for j in before].count("multiclass") == 1
    assert sum(j.kind == "bootstrap" for j in before) == 3
    assert stages.pending_jobs(ctx, line_models=True, bootstrap=True) == []
    datasets = stages.ensure_datasets(ctx, stages.ensure_world(ctx))
    assert stages.train_in_parallel(ctx, datasets, bootstrap=True) == []  # nothing left
    pre = stages.ensure_pretrained(ctx, datasets)
    cv = stages.ensure_line_model(ctx, datasets, pre, line="HepG2", kind="finetune")
    assert cv.runs[0].reused
    rows = stages.ensure_bootstrap(ctx, datasets, pre)
    assert len(rows) == 3 and set(rows["kind"]) == {"finetune", "scratch"}


#: Caches a chapter may write on a fetched run without computing anything: the sha256 memo of
#: the dataset inputs (left out of archives: keyed by absolute paths) and the genome code
#: cache's sidecar (its FASTA stamp takes the unpacked file's mtime after a sha256 check).
_RESTAMPED = re.compile(r"^datasets/\.sha256-cache\.json$|\.codes\.json$")


def _stamps(run_dir: Path) -> dict[str, tuple[int, int]]:
    """Size and mtime of every file under the run's artifact folders."""
    out = {}
    for folder in ("world", "datasets", "models", "interpret"):
        for p in sorted((run_dir / folder).rglob("*")):
            rel = p.relative_to(run_dir).as_posix()
            if p.is_file() and not _RESTAMPED.search(rel):
                out[rel] = (p.stat().st_size, p.stat().st_mtime_ns)
    return out


@pytest.mark.notebook
def test_a_fetched_smoke_run_opens_a_late_chapter_without_training(smoke_book, tmp_path) -> None:
    """``pack-run`` on the finished smoke book, ``fetch runs`` from a mirror folder into a fresh
    run directory, then the attribution chapter on it: it runs to its figures, and no model is
    trained, no dataset built and no attribution recomputed (every artifact keeps its size and
    mtime, none is added)."""
    import nbformat

    from chromtransfer_lib.book.run_archive import pack_run
    from chromtransfer_lib.book.run_fetch import fetch_run
    from chromtransfer_lib.book.runner import run_book

    run_dir = smoke_book.result.run_dir
    mirror = tmp_path / "mirror"
    packed = pack_run(run_dir, mirror / "runs" / "run-smoke.tar.gz", profile="smoke")
    again = pack_run(run_dir, tmp_path / "again.tar.gz", profile="smoke")
    assert again.sha256 == packed.sha256  # a real run packs to the same bytes too
    learner = tmp_path / "learner"
    fetched = fetch_run(
        "smoke", run_dir=learner, mirror=mirror, sha256=packed.sha256,
        cache_dir=tmp_path / "cache", progress=False,
    )  # fmt: skip
    assert fetched.profile_matches
    before = _stamps(learner)
    assert sum(k.endswith("model.keras") for k in before) >= 13  # 12 line models + multiclass
    assert any(k.startswith("interpret/gxi-") for k in before)  # chapter 6's cached arrays
    result = run_book(
        profile="smoke", root=smoke_book.root, run_dir=learner, chapters=["06"], html=False,
        progress=False, notebooks_dir=tmp_path / "chapters",
    )  # fmt: skip
    print(f"chapter 06 on the fetched run: {result.chapters[0].seconds:.1f} s")
    assert _stamps(learner) == before
    nb = nbformat.read(result.chapters[0].executed, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert any("image/png" in o.get("data", {}) for o in outputs)
    assert not any(o.get("output_type") == "error" for o in outputs)
