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
    assert cfg["repository"] == {"url": "https://github.com/acme/b", "branch": "main",
                                 "path_to_book": ""}  # fmt: skip
    assert cfg["html"]["use_repository_button"] and cfg["launch_buttons"]["binderhub_url"]
    # Colab opens notebooks from GitHub only, where the generated chapters are not: no button
    assert "colab_url" not in cfg["launch_buttons"]
    assert cfg["sphinx"]["extra_extensions"] == ["sphinx_exercise"]
    ext = cfg["sphinx"]["local_extensions"]["inline_js_once"]
    assert Path(ext).is_absolute() and ext == str((fake / "book" / "_ext").resolve())


def test_cell_timeout_is_set_for_papermill_and_jupyter_book(tmp_path, monkeypatch) -> None:
    """papermill runs every chapter cell with ``CELL_TIMEOUT_S``; ``_config.yml`` states the same
    per-cell timeout for Jupyter Book, and both equal the GPU workflow's job limit."""
    import papermill
    import yaml

    from chromtransfer_lib.book import runner

    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["execute"]["execute_notebooks"] == "off"
    assert config["execute"]["timeout"] == runner.CELL_TIMEOUT_S
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "book-gpu.yml").read_text())
    assert workflow["jobs"]["book"]["timeout-minutes"] * 60 == runner.CELL_TIMEOUT_S

    seen = {}
    monkeypatch.setattr(papermill, "execute_notebook", lambda *a, **kw: seen.update(kw))
    source = tmp_path / "notebooks" / "01_x.py"
    source.parent.mkdir()
    source.write_text('# %% tags=["parameters"]\nprofile = "quick"\nrun_dir = None\n')
    runner.execute_chapter(
        source, root=tmp_path, profile="smoke", run_dir=tmp_path / "run", progress=False
    )
    assert seen["execution_timeout"] == runner.CELL_TIMEOUT_S


def _colab_cell(notebook: Path) -> str:
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    (cell,) = [c for c in nb.cells if "colab-install" in c.metadata.get("tags", [])]
    return cell.source


def _run_cell(source: str, monkeypatch, *, colab: bool) -> list[list[str]]:
    """Execute the install cell as a kernel would; the commands it would run (none run)."""
    import subprocess
    import sys
    import types

    calls = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append(list(cmd)))
    if colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(compile(source, "colab-install", "exec"), {})
    return calls


def test_colab_install_cell_is_a_no_op_outside_colab(tmp_path, monkeypatch) -> None:
    """The first chapter's install cell, as ``chromtransfer book`` writes it with a known
    repository: nothing outside Colab; in Colab, the README's ``pip install git+<repository>``;
    without a repository, in Colab, an error that says what to install."""
    from chromtransfer_lib.book import runner

    url = "https://github.com/acme/chromtransfer-book"
    source = ROOT / "notebooks" / "01_data.py"
    runner.convert_chapter(source, tmp_path / "with.ipynb", repository=url)
    runner.convert_chapter(source, tmp_path / "without.ipynb")
    cell = _colab_cell(tmp_path / "with.ipynb")
    assert f"REPOSITORY = {url!r}" in cell
    assert _run_cell(cell, monkeypatch, colab=False) == []
    assert _run_cell(cell, monkeypatch, colab=True) == [runner.colab_install_command(url)]
    readme = (ROOT / "README.md").read_text()
    assert f"pip install {runner.colab_install_command(url)[-1]}" in readme
    bare = _colab_cell(tmp_path / "without.ipynb")
    assert runner.COLAB_REPOSITORY_LINE in bare
    assert _run_cell(bare, monkeypatch, colab=False) == []
    with pytest.raises(RuntimeError, match="pip install git"):
        _run_cell(bare, monkeypatch, colab=True)


def test_binder_postbuild_writes_the_chapters_the_launch_button_opens(tmp_path, copy_book) -> None:
    """``postBuild`` (run by Binder) converts every chapter to ``book/chapters/NN_name.ipynb``,
    the path the theme's Binder button opens for the page ``book/chapters/NN_name.html``."""
    import os
    import shutil
    import subprocess
    import sys

    import nbformat

    root = copy_book(tmp_path / "book_root")
    shutil.copy(ROOT / "postBuild", root / "postBuild")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("CHROMTRANSFER_REPO_URL", None)
    subprocess.run(["bash", "postBuild"], cwd=root, env=env, check=True)
    written = sorted((root / "book" / "chapters").glob("*.ipynb"))
    assert [p.stem for p in written] == [p.stem for p in list_chapters(root)]
    for path in written:
        nb = nbformat.read(path, as_version=4)
        assert nb.metadata["kernelspec"]["name"] == "python3"
        assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code")
