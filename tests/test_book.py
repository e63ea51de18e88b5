"""The whole book at the smoke profile, through the same runner users call."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chromtransfer_lib.book.runner import BookError, find_repo_root, list_chapters, run_book

ROOT = Path(__file__).resolve().parent.parent


def test_toc_lists_every_chapter() -> None:
    toc = (ROOT / "_toc.yml").read_text()
    listed = re.findall(r"book/chapters/(\d\d_[a-z0-9_]+)", toc)
    assert listed == [p.stem for p in list_chapters(ROOT)]


def test_every_chapter_takes_profile_and_run_dir_parameters() -> None:
    for src in list_chapters(ROOT):
        text = src.read_text()
        cell = text.split('# %% tags=["parameters"]', 1)
        assert len(cell) == 2, f"{src.name} has no parameters cell"
        params = cell[1].split("# %%", 1)[0]
        assert 'profile = "quick"' in params and "run_dir = None" in params, src.name


def test_failing_chapter_names_notebook_and_cell(tmp_path: Path, copy_book) -> None:
    root = copy_book(tmp_path / "book_root")
    for p in list_chapters(root):
        p.unlink()
    (root / "notebooks" / "01_data.py").write_text(
        '# %% tags=["parameters"]\nprofile = "quick"\nrun_dir = None\n\n'
        '# %%\nraise RuntimeError("planted failure")\n'
    )
    with pytest.raises(BookError, match=r"notebooks/01_data\.py failed in cell .*planted failure"):
        run_book(profile="smoke", root=root, run_dir=tmp_path / "run", html=False, progress=False)


def test_bad_profile_fails_before_running(tmp_path: Path) -> None:
    from chromtransfer_lib.config import ConfigError

    with pytest.raises(ConfigError):
        run_book(profile="nope", root=ROOT, html=False)


def test_repo_root_is_found_from_subdirectory() -> None:
    assert find_repo_root(ROOT / "notebooks") == ROOT


@pytest.mark.parametrize(
    ("remote", "expected"),
    [
        (
            "git@github.com:acme/chromtransfer-book.git",
            "https://github.com/acme/chromtransfer-book",
        ),
        (
            "https://github.com/acme/chromtransfer-book.git",
            "https://github.com/acme/chromtransfer-book",
        ),
        ("https://github.com/acme/book/", "https://github.com/acme/book"),
        ("https://gitlab.example.org/acme/book.git", None),
    ],
)
def test_repository_url_from_origin_or_env(tmp_path, monkeypatch, remote, expected) -> None:
    import subprocess

    from chromtransfer_lib.book import runner as book

    monkeypatch.delenv(book.REPO_URL_ENV, raising=False)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    assert book.repository_url(tmp_path) is None  # no origin
    subprocess.run(["git", "-C", str(tmp_path), "remote", "add", "origin", remote], check=True)
    assert book.repository_url(tmp_path) == expected
    monkeypatch.setenv(book.REPO_URL_ENV, "git@github.com:other/repo")
    assert book.repository_url(tmp_path) == "https://github.com/other/repo"


def test_book_config_adds_buttons_only_with_a_repository(tmp_path, monkeypatch) -> None:
    import yaml

    from chromtransfer_lib.book import runner as book

    root = book.find_repo_root()
    monkeypatch.delenv(book.REPO_URL_ENV, raising=False)
    monkeypatch.setattr(book, "repository_url", lambda _root: None)
    assert book.book_config(root) == root / "_config.yml"
    monkeypatch.setattr(book, "repository_url", lambda _root: "https://github.com/acme/b")
    fake = tmp_path / "root"
    fake.mkdir()
    (fake / "_config.yml").write_text((root / "_config.yml").read_text())
    cfg = yaml.safe_load(book.book_config(fake).read_text())
    assert cfg["repository"]["url"] == "https://github.com/acme/b"
    assert cfg["html"]["use_repository_button"] and cfg["launch_buttons"]["binderhub_url"]
    ext = cfg["sphinx"]["local_extensions"]["inline_js_once"]
    assert Path(ext).is_absolute() and ext == str((fake / "book" / "_ext").resolve())
