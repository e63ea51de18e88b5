"""Shared fixtures: the book's sources copied to a temporary root, and the smoke book built once."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from chromtransfer_lib.book.browsercheck import find_chromium
from chromtransfer_lib.book.runner import BookResult, run_book

ROOT = Path(__file__).resolve().parent.parent

#: Chapters that are tables by design (the ledger, the calibration record); every other chapter
#: must show at least one figure.
TABLE_CHAPTERS = frozenset({"11_calibration"})


def copy_book_sources(dst: Path) -> Path:
    """Copy ``_config.yml``, ``_toc.yml``, ``book/`` and ``notebooks/`` (no outputs) to ``dst``."""
    dst.mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, dst / name)
    for name in ("book", "notebooks"):
        shutil.copytree(
            ROOT / name, dst / name, ignore=shutil.ignore_patterns("chapters", "*.ipynb")
        )
    # the calibration appendix reads the grid and the recorded runs table, not the run folders
    shutil.copytree(ROOT / "experiments", dst / "experiments", ignore=_calibration_run_folders)
    return dst


def _calibration_run_folders(folder: str, names: list[str]) -> list[str]:
    if Path(folder).name != "calibration":
        return []
    return [n for n in names if (Path(folder) / n).is_dir()]


@pytest.fixture
def copy_book() -> Callable[[Path], Path]:
    """:func:`copy_book_sources`, for tests that run the book on a modified copy."""
    return copy_book_sources


@pytest.fixture(scope="session")
def chromium() -> Path:
    """``$CHROMIUM`` if set, else the first Chromium/Chrome on PATH; skip if there is none."""
    path = Path(os.environ["CHROMIUM"]) if os.environ.get("CHROMIUM") else find_chromium()
    if path is None or not path.is_file():
        pytest.skip(
            "no Chromium: the browser check needs Debian's `chromium` package "
            "(`apt-get install chromium`; .ci/run installs it) or CHROMIUM=/path/to/chrome"
        )
    return path


@dataclass(frozen=True)
class SmokeBook:
    root: Path
    html_root: Path
    result: BookResult


@pytest.fixture(scope="session")
def smoke_book(tmp_path_factory: pytest.TempPathFactory) -> SmokeBook:
    """The whole book executed at the smoke profile and rendered to HTML, once per session."""
    tmp = tmp_path_factory.mktemp("smoke_book")
    root = copy_book_sources(tmp / "book_root")
    result = run_book(profile="smoke", root=root, run_dir=tmp / "run", progress=False)
    return SmokeBook(root, root / "_build" / "html", result)
