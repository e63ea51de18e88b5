"""The book's overview page: a gallery of every chapter's figures and the measured run times.

Reads what the run produced — the executed notebooks in ``book/chapters/`` and the
``book_timings.csv`` of each profile's run directory — and nothing else (ARCHITECTURE.md,
"chapters read like the paper": one call per table or figure).
"""

from __future__ import annotations

import base64
from pathlib import Path

import pandas as pd

from chromtransfer_lib.config import PROFILE_NAMES, load_profile


def chapter_figures(chapters_dir: Path, *, per_chapter: int = 2) -> pd.DataFrame:
    """The first ``per_chapter`` PNG figures of every executed chapter notebook.

    Returns a table ``chapter, title, index, png`` (``png`` holds the raw bytes).
    """
    import nbformat

    rows = []
    for path in sorted(Path(chapters_dir).glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        title = next(
            (
                line.lstrip("# ").strip()
                for cell in nb.cells
                if cell.cell_type == "markdown"
                for line in cell.source.splitlines()
                if line.startswith("# ")
            ),
            path.stem,
        )
        found = 0
        for cell in nb.cells:
            for out in cell.get("outputs", []):
                png = out.get("data", {}).get("image/png")
                if png and found < per_chapter:
                    rows.append(
                        {
                            "chapter": path.stem,
                            "title": title,
                            "index": found,
                            "png": base64.b64decode(png),
                        }
                    )
                    found += 1
    return pd.DataFrame(rows, columns=["chapter", "title", "index", "png"])


def measured_times(runs_root: Path, *, current: tuple[str, Path] | None = None) -> pd.DataFrame:
    """Minutes per profile from ``book_timings.csv`` of each run directory found.

    ``runs_root`` holds ``<profile>/`` run directories (``runs/``); ``current`` — ``(profile
    name, run directory)`` of the run rendering the book — is used even if it lives elsewhere.
    """
    dirs = {name: Path(runs_root) / name for name in PROFILE_NAMES}
    if current is not None and current[0] in dirs:
        dirs[current[0]] = Path(current[1])
    rows = []
    for name in PROFILE_NAMES:
        prof = load_profile(name)
        timings = dirs[name] / "book_timings.csv"
        row = {
            "profile": name,
            "data": prof.data.source,
            "input length (bp)": prof.data.seq_len,
            "stem filters": prof.model.stem_filters,
            "description": prof.description,
        }
        if timings.is_file():
            t = pd.read_csv(timings)
            row["measured minutes (this machine)"] = round(t["seconds"].sum() / 60, 1)
            row["slowest chapter"] = t.sort_values("seconds").iloc[-1]["chapter"]
        else:
            row["measured minutes (this machine)"] = None
            row["slowest chapter"] = "not run here"
        rows.append(row)
    return pd.DataFrame(rows)


def gallery_figure(figures: pd.DataFrame, *, panel_width: float = 6.0, panel_height: float = 3.4):
    """One matplotlib figure of :func:`chapter_figures`: a row per chapter, titled by the
    chapter, its figures side by side (``None`` when there are none).

    The figure is closed before it is returned, so a notebook shows it once, as the cell's
    result."""
    import io

    import matplotlib.pyplot as plt
    from matplotlib.image import imread

    if figures.empty:
        return None
    chapters = sorted(figures["chapter"].unique())
    ncols = int(figures.groupby("chapter").size().max())
    fig, axes = plt.subplots(
        len(chapters),
        ncols,
        figsize=(panel_width * ncols, panel_height * len(chapters)),
        squeeze=False,
    )
    for row, chapter in zip(axes, chapters, strict=True):
        group = figures[figures["chapter"] == chapter]
        for ax in row:
            ax.axis("off")
        for ax, png in zip(row, group["png"], strict=False):
            ax.imshow(imread(io.BytesIO(png), format="png"))
        row[0].set_title(group["title"].iloc[0], loc="left", fontsize=12, fontweight="bold")
    fig.tight_layout()
    plt.close(fig)  # shown once, as the cell's result, not again by the inline backend
    return fig
