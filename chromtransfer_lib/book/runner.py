"""The book runner: jupytext sources → papermill-executed notebooks → Jupyter Book HTML.

The same function serves ``make book``, ``chromtransfer book`` and the test suite, so what the
tests run is what users run.

1. Each ``notebooks/NN_name.py`` (jupytext percent format) is converted to a notebook with a
   ``python3`` kernelspec.
2. papermill executes it with the only two parameters a chapter takes, ``profile`` and
   ``run_dir``, writing the executed notebook to ``book/chapters/NN_name.ipynb`` (git-ignored).
   The first failing cell stops the run, naming the notebook and the cell.
3. Jupyter Book 1.x renders the repository root (``_config.yml`` + ``_toc.yml``) with execution
   off. Jupyter Book 2.x exits 0 without building (design.md §7), so the run fails unless
   ``_build/html/index.html`` was written by this build.

A cell may run for at most :data:`CELL_TIMEOUT_S` seconds (papermill's ``execution_timeout``;
``_config.yml`` states the same value as Jupyter Book's ``execute.timeout``, which the build
never applies because it executes nothing).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from chromtransfer_lib.config import load_profile
from chromtransfer_lib.errors import InputError

log = logging.getLogger(__name__)

CHAPTER_PATTERN = re.compile(r"^\d\d_[a-z0-9_]+\.py$")

#: Longest a chapter cell may run, in seconds (papermill's per-cell ``execution_timeout``, the
#: same for every profile): 72 h, the ``timeout-minutes`` of the GPU workflow
#: (``.github/workflows/book-gpu.yml``) that runs the ``paper`` profile, so the cell limit never
#: ends a run that the workflow would let finish. The slowest cells are the set-up cells that
#: train: chapter 3's (36 binary runs and 3 multiclass folds at the ``paper`` profile; the paper
#: reports 142 s per epoch and 236 min per 100-epoch baseline model on its GPU, and early
#: stopping ends most runs far sooner), chapter 2's pre-training and chapter 5's grid (80 units
#: on up to 75 % of HepG2). A cell past the limit fails its chapter with papermill's timeout
#: error; the stages resume, so re-running the chapter continues from the finished models.
CELL_TIMEOUT_S = 72 * 3600


class BookError(InputError, RuntimeError):
    """A chapter failed to execute, or the HTML book was not built."""


@dataclass(frozen=True)
class ChapterRun:
    """One executed chapter."""

    name: str
    source: Path
    executed: Path
    seconds: float


@dataclass(frozen=True)
class BookResult:
    """What :func:`run_book` produced."""

    profile: str
    run_dir: Path
    chapters: tuple[ChapterRun, ...]
    index_html: Path | None
    build_seconds: float


def find_repo_root(start: Path | None = None) -> Path:
    """The directory holding ``_config.yml`` and ``notebooks/``, searching upwards."""
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / "_config.yml").is_file() and (d / "notebooks").is_dir():
            return d
    pkg_root = Path(__file__).resolve().parents[2]
    if (pkg_root / "_config.yml").is_file():
        return pkg_root
    raise BookError(
        f"no book found above {here}: run from the repository (the folder with _config.yml)"
    )


def default_run_dir(profile_name: str, root: Path | None = None) -> Path:
    """``<repository>/runs/<profile name>``: where ``chromtransfer book`` writes a profile's run
    (and where ``pack-run`` and ``fetch runs`` look for it)."""
    return find_repo_root(root) / "runs" / profile_name


def list_chapters(root: Path) -> list[Path]:
    """Chapter sources ``notebooks/NN_name.py`` in order."""
    return sorted(p for p in (root / "notebooks").iterdir() if CHAPTER_PATTERN.match(p.name))


def chapter_command(name: str, profile: str) -> str:
    """The papermill call that re-runs one chapter by hand (quoted in every chapter page)."""
    return (
        f"jupytext --to ipynb --set-kernel python3 -o book/chapters/{name}.ipynb "
        f"notebooks/{name}.py && papermill book/chapters/{name}.ipynb "
        f"book/chapters/{name}.ipynb -p profile {profile} -p run_dir runs/{profile}"
    )


#: Tag of the chapter cell that installs the library when the notebook runs in Google Colab.
COLAB_TAG = "colab-install"

#: The line of that cell which :func:`convert_chapter` fills in with the repository's URL.
COLAB_REPOSITORY_LINE = "REPOSITORY = None"


def colab_install_command(repository: str) -> list[str]:
    """The command the Colab install cell runs for ``repository`` (an ``https://`` URL):
    ``python -m pip install git+<repository>``, the install the README gives."""
    return [sys.executable, "-m", "pip", "install", f"git+{repository}"]


def convert_chapter(source: Path, target: Path, *, repository: str | None = None) -> None:
    """jupytext percent ``.py`` → ``.ipynb`` with a python3 kernelspec.

    ``repository`` (:func:`repository_url`) is written into the cell tagged :data:`COLAB_TAG`
    (its line :data:`COLAB_REPOSITORY_LINE`), so a notebook downloaded from the rendered page
    installs the library from there when opened in Colab; with ``None`` the line stays, and the
    cell says in Colab that the repository is unknown.
    """
    import jupytext

    nb = jupytext.read(source)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata.setdefault("jupytext", {})["source"] = str(source.name)
    if repository is not None:
        for cell in nb.cells:
            if COLAB_TAG in cell.get("metadata", {}).get("tags", []):
                cell.source = cell.source.replace(
                    COLAB_REPOSITORY_LINE, f"REPOSITORY = {repository!r}", 1
                )
    target.parent.mkdir(parents=True, exist_ok=True)
    jupytext.write(nb, target, fmt="ipynb")


def convert_chapters(root: Path | None = None) -> list[Path]:
    """Write every chapter, converted but not executed, to ``book/chapters/NN_name.ipynb``
    (where the Binder launch button opens it); the repository's ``postBuild`` calls this on
    Binder, where no book has run."""
    root = find_repo_root(root)
    out = []
    for source in list_chapters(root):
        target = root / "book" / "chapters" / f"{source.stem}.ipynb"
        convert_chapter(source, target, repository=repository_url(root))
        out.append(target)
    return out


def execute_chapter(
    source: Path,
    *,
    root: Path,
    profile: str,
    run_dir: Path,
    kernel_name: str = "python3",
    progress: bool = True,
    output_dir: Path | None = None,
) -> ChapterRun:
    """Convert and execute one chapter with papermill; raise :class:`BookError` on failure.

    The executed notebook goes to ``output_dir`` (default ``book/chapters/``, where the HTML
    build reads it).
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from chromtransfer_lib.progress import bars_enabled

    name = source.stem
    executed = (output_dir or root / "book" / "chapters") / f"{name}.ipynb"
    convert_chapter(source, executed, repository=repository_url(root))
    t0 = time.perf_counter()
    log.info("executing %s (profile %s)", source.relative_to(root), profile)
    try:
        papermill.execute_notebook(
            str(executed),
            str(executed),
            parameters={"profile": profile, "run_dir": str(run_dir)},
            kernel_name=kernel_name,
            cwd=str(root),
            progress_bar=bars_enabled(progress),  # per-cell bar on a terminal only
            request_save_on_cell_execute=True,
            execution_timeout=CELL_TIMEOUT_S,
        )
    except PapermillExecutionError as err:
        raise BookError(
            f"chapter {source.relative_to(root)} failed in cell {err.exec_count} "
            f"({err.ename}: {err.evalue}).\nThe partly executed notebook is {executed}; "
            f"re-run this chapter alone with:\n  {chapter_command(name, profile)}"
        ) from err
    _hide_injected_parameters(executed)
    return ChapterRun(name, source, executed, time.perf_counter() - t0)


def _hide_injected_parameters(path: Path) -> None:
    """Tag papermill's injected-parameters cell ``remove-cell`` so the page stays clean.

    The values stay in the notebook (and every chapter prints its profile); only the rendered
    page omits the cell, whose absolute ``run_dir`` means nothing to a reader.
    """
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            cell["metadata"]["tags"] = [*tags, "remove-cell"]
    nbformat.write(nb, path)


#: Environment variable naming the book's public repository (overrides the clone's origin).
REPO_URL_ENV = "CHROMTRANSFER_REPO_URL"


def repository_url(root: Path) -> str | None:
    """The public repository the book links to: ``$CHROMTRANSFER_REPO_URL``, else the clone's
    ``origin`` remote when it is on GitHub (SSH or HTTPS form), else ``None``."""
    url = os.environ.get(REPO_URL_ENV, "").strip()
    if not url:
        proc = subprocess.run(
            ["git", "-C", str(root), "remote", "get-url", "origin"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        url = proc.stdout.strip() if proc.returncode == 0 else ""
    m = re.match(r"^(?:https://github\.com/|git@github\.com:|ssh://git@github\.com/)"
                 r"([\w.-]+)/([\w.-]+?)(?:\.git)?/?$", url)  # fmt: skip
    return f"https://github.com/{m.group(1)}/{m.group(2)}" if m else None


def book_config(root: Path) -> Path:
    """The configuration to build with: ``_config.yml`` itself, or — when the book knows its
    public repository (:func:`repository_url`) — a copy in ``_build`` that adds the repository
    and issues buttons and a Binder launch button on the chapter pages.

    The theme points a launch button at the page's source in the repository,
    ``book/chapters/NN_name.ipynb`` on ``main``. That folder is generated (git-ignored): on
    Binder the repository's ``postBuild`` writes it (the chapters converted, not executed), but
    Colab opens notebooks from GitHub only, where it does not exist, so a Colab button would
    always fail and none is added. In Colab, upload the notebook the page's download button
    gives: its install cell (:data:`COLAB_TAG`) installs the library.
    """
    import yaml

    base = root / "_config.yml"
    url = repository_url(root)
    if url is None:
        return base
    config = yaml.safe_load(base.read_text())
    config["repository"] = {"url": url, "branch": "main", "path_to_book": ""}
    config.setdefault("html", {}).update(use_repository_button=True, use_issues_button=True)
    ext = config.get("sphinx", {}).get("local_extensions") or {}
    for name, path in ext.items():  # resolved against the config file's folder: make absolute
        ext[name] = str((root / path).resolve())
    config["launch_buttons"] = {
        "notebook_interface": "jupyterlab",
        "binderhub_url": "https://mybinder.org",
    }
    out = root / "_build" / "_config.with-repository.yml"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    return out


def build_html(root: Path) -> Path:
    """Render the book with Jupyter Book 1.x; return ``_build/html/index.html``."""
    index = root / "_build" / "html" / "index.html"
    index.unlink(missing_ok=True)  # so that its presence afterwards proves this build wrote it
    exe = Path(sys.executable).with_name("jupyter-book")
    if not exe.is_file():
        found = shutil.which("jupyter-book")
        if found is None:
            raise BookError("jupyter-book is not installed: pip install -e . (jupyter-book>=1,<2)")
        exe = Path(found)
    config = book_config(root)
    cmd = [str(exe), "build", str(root), "--path-output", str(root), "--config", str(config)]
    log.info("building HTML: %s", " ".join(cmd))
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BookError(
            f"jupyter-book build failed (exit {proc.returncode}):\n{proc.stdout[-4000:]}\n"
            f"{proc.stderr[-4000:]}"
        )
    if not index.is_file():
        raise BookError(
            "jupyter-book exited without writing _build/html/index.html — is Jupyter Book 2.x "
            "installed? This book needs jupyter-book>=1.0.4,<2 (pip install -e .)."
        )
    warnings = [ln for ln in proc.stdout.splitlines() + proc.stderr.splitlines() if "WARNING" in ln]
    for ln in warnings:
        log.warning("jupyter-book: %s", ln)
    return index


def run_book(
    *,
    profile: str,
    run_dir: Path | None = None,
    root: Path | None = None,
    chapters: list[str] | None = None,
    html: bool = True,
    progress: bool = True,
    notebooks_dir: Path | None = None,
) -> BookResult:
    """Execute every chapter (or the named ones) at ``profile`` and build the HTML book.

    Parameters
    ----------
    profile
        ``smoke``, ``quick``, ``paper`` or a YAML path; validated before anything runs.
    run_dir
        Where chapters write and read their artifacts; default ``runs/<profile>``.
    chapters
        Chapter stems (``01_data``) or numbers (``01``) to run; default all, in order.
    html
        Build the HTML book after executing.
    notebooks_dir
        Where executed notebooks go (default ``book/chapters/``; the HTML build needs that).
        Batch runs that build no HTML (calibration) keep theirs in their run directory, so
        they never overwrite the book's pages.
    """
    root = find_repo_root(root)
    prof = load_profile(profile)  # fail before any chapter runs if the profile is bad
    run_dir = Path(run_dir) if run_dir is not None else default_run_dir(prof.name, root)
    run_dir = run_dir if run_dir.is_absolute() else (root / run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    sources = list_chapters(root)
    if chapters:
        wanted = set(chapters)
        sources = [s for s in sources if s.stem in wanted or s.stem[:2] in wanted]
        unknown = wanted - {s.stem for s in sources} - {s.stem[:2] for s in sources}
        if unknown:
            raise BookError(f"unknown chapter(s) {sorted(unknown)}; see notebooks/")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    runs = []
    for src in sources:
        run = execute_chapter(
            src,
            root=root,
            profile=profile,
            run_dir=run_dir,
            progress=progress,
            output_dir=notebooks_dir,
        )
        log.info("%s done in %.1f s", run.name, run.seconds)
        runs.append(run)
    t0 = time.perf_counter()
    if html and notebooks_dir is not None:
        raise BookError("the HTML build reads book/chapters/: leave notebooks_dir unset")
    index = build_html(root) if html else None
    result = BookResult(prof.name, run_dir, tuple(runs), index, time.perf_counter() - t0)
    _write_timings(result)
    return result


def _write_timings(result: BookResult) -> None:
    """Record chapter times in the run directory (the intro's profile table reads them).

    Chapters run alone update their own row and keep the others'.
    """
    import pandas as pd

    path = result.run_dir / "book_timings.csv"
    rows = {r.name: round(r.seconds, 1) for r in result.chapters}
    if result.index_html is not None:
        rows["html_build"] = round(result.build_seconds, 1)
    if path.is_file():
        old = pd.read_csv(path)
        rows = {**dict(zip(old["chapter"], old["seconds"], strict=True)), **rows}
    table = pd.DataFrame(sorted(rows.items()), columns=["chapter", "seconds"])
    tmp = path.with_suffix(".tmp")
    table.to_csv(tmp, index=False)
    tmp.replace(path)
