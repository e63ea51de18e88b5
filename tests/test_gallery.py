"""The overview page: figures collected from executed chapters, one gallery figure, run times."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import nbformat

from chromtransfer_lib.book import gallery


def _png(colour: str) -> bytes:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1, 1))
    ax.set_facecolor(colour)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def _chapter(path: Path, title: str, pngs: list[bytes]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {title}\n\ntext")]
    for png in pngs:
        cell = nbformat.v4.new_code_cell("plot()")
        data = {"image/png": base64.b64encode(png).decode()}
        cell.outputs = [nbformat.v4.new_output("display_data", data=data)]
        nb.cells.append(cell)
    nbformat.write(nb, path)


def test_chapter_figures_and_gallery_figure(tmp_path: Path) -> None:
    _chapter(tmp_path / "01_a.ipynb", "1. First", [_png("red"), _png("blue"), _png("green")])
    _chapter(tmp_path / "02_b.ipynb", "2. Second", [_png("black")])
    _chapter(tmp_path / "notes.ipynb", "not a chapter", [_png("red")])
    figures = gallery.chapter_figures(tmp_path, per_chapter=2)
    assert figures["chapter"].tolist() == ["01_a", "01_a", "02_b"]
    assert figures["title"].iloc[0] == "1. First"
    fig = gallery.gallery_figure(figures)
    assert len(fig.axes) == 4  # 2 chapters x 2 columns, the empty panel blank
    assert [ax.get_title(loc="left") for ax in fig.axes[::2]] == ["1. First", "2. Second"]
    assert len(fig.axes[3].images) == 0 and len(fig.axes[2].images) == 1
    assert gallery.gallery_figure(figures.iloc[:0]) is None


def test_measured_times_reads_timings(tmp_path: Path) -> None:
    (tmp_path / "smoke").mkdir()
    (tmp_path / "smoke" / "book_timings.csv").write_text("chapter,seconds\n01_a,60\n02_b,120\n")
    times = gallery.measured_times(tmp_path).set_index("profile")
    assert times.loc["smoke", "measured minutes (this machine)"] == 3.0
    assert times.loc["smoke", "slowest chapter"] == "02_b"
    assert times.loc["quick", "slowest chapter"] == "not run here"
