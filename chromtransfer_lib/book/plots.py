"""One look for every figure: a plotnine theme, the cell-line palette, and sequence logos.

Figures are plotnine (grammar of graphics) except sequence logos and attribution tracks,
which are logomaker on matplotlib.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from chromtransfer_lib.config import CELL_LINES

#: One colour per cell line (Okabe–Ito, colour-blind safe), used in every figure.
CELL_LINE_COLOURS: dict[str, str] = dict(
    zip(CELL_LINES, ["#E69F00", "#56B4E9", "#009E73", "#CC79A7", "#D55E00", "#0072B2"], strict=True)
)

#: Colours of the model kinds compared throughout the book.
MODEL_COLOURS: dict[str, str] = {
    "ChromTransfer": "#0072B2",
    "binary baseline": "#D55E00",
    "multiclass baseline": "#CC79A7",
    "pre-trained": "#7F7F7F",
}

#: Colours of the nucleotides in logos (the usual A/C/G/T scheme).
BASE_COLOURS: dict[str, str] = {"A": "#109648", "C": "#255C99", "G": "#F7B32B", "T": "#D62839"}


def theme_book(base_size: float = 11):
    """The book's plotnine theme: clean, large enough for slides."""
    import plotnine as p9

    return p9.theme_bw(base_size=base_size) + p9.theme(
        panel_grid_minor=p9.element_blank(),
        strip_background=p9.element_rect(fill="#f0f0f0"),
        legend_key=p9.element_blank(),
        figure_size=(7, 4),
        dpi=110,
    )


def information_content(probabilities: np.ndarray, *, background: float = 0.25) -> np.ndarray:
    """Per-position information content (bits) of a ``(4, w)`` probability matrix."""
    p = np.clip(np.asarray(probabilities, dtype=float), 1e-12, 1.0)
    return (p * np.log2(p / background)).sum(axis=0)


def logo_frame(probabilities: np.ndarray) -> pd.DataFrame:
    """``(4, w)`` probabilities → logomaker's information-content matrix ``(w, 4)``."""
    p = np.asarray(probabilities, dtype=float)
    ic = information_content(p)
    return pd.DataFrame((p * ic).T, columns=list("ACGT"))


def plot_logo(probabilities: np.ndarray, *, ax=None, title: str | None = None):
    """Draw an information-content logo of a ``(4, w)`` probability matrix.

    Returns the ``logomaker.Logo`` object; its axes are ``logo.ax``.
    """
    import logomaker
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(max(2.5, 0.3 * np.asarray(probabilities).shape[1]), 1.6))
    logo = logomaker.Logo(logo_frame(probabilities), ax=ax, color_scheme=BASE_COLOURS)
    logo.style_spines(visible=False)
    logo.style_spines(spines=["left", "bottom"], visible=True)
    ax.set_ylim(0, 2)
    ax.set_ylabel("bits")
    ax.set_xticks([])
    if title:
        ax.set_title(title, fontsize=10, loc="left")
    return logo


def plot_logo_grid(
    matrices: Sequence,
    *,
    ncols: int = 2,
    titles: Sequence[str] | None = None,
    pseudocount: float = 0.0,
):
    """Logos of several :class:`~chromtransfer_lib.genome.jaspar.JasparMatrix` in a grid.

    Returns the matplotlib figure.
    """
    import matplotlib.pyplot as plt

    n = len(matrices)
    nrows = int(np.ceil(n / ncols))
    width = max(m.width for m in matrices)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(ncols * max(3.0, 0.28 * width), 1.7 * nrows), squeeze=False
    )
    for i, ax in enumerate(axes.flat):
        if i >= n:
            ax.axis("off")
            continue
        m = matrices[i]
        title = titles[i] if titles else f"{m.name} ({m.matrix_id})"
        plot_logo(m.probabilities(pseudocount=pseudocount), ax=ax, title=title)
    fig.tight_layout()
    return fig
