"""De novo motifs of an attribution folder: TF-MoDISco patterns matched to JASPAR, as a report
folder (``chromtransfer denovo``).

The computation is :mod:`chromtransfer_lib.interpret.denovo` (modisco-lite for the patterns,
memelite's TOMTOM for the matches, window sizes fitted to 200 bp); this module reads the
hypothetical contributions that ``chromtransfer attribute --hypothetical`` saved, runs it on
the folder's regions and writes the report atomically. See ARCHITECTURE.md for the layers.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from chromtransfer_lib.data.own import _temp_for, check_output, provenance
from chromtransfer_lib.errors import InputError
from chromtransfer_lib.genome.sequence import one_hot
from chromtransfer_lib.predict.attributions import load_attributions


class DenovoInputError(InputError, ValueError):
    """An attribution folder without hypothetical contributions."""


@dataclass(frozen=True)
class DenovoReport:
    """What :func:`denovo_report` wrote: one row per pattern, its best JASPAR matches."""

    out: Path
    patterns: pd.DataFrame  #: pattern, sign, n_seqlets, width, consensus
    matches: pd.DataFrame  #: :func:`chromtransfer_lib.interpret.denovo.match_jaspar`'s columns
    seconds: float


def denovo_report(
    attributions: str | Path,
    out: str | Path,
    *,
    jaspar_release: str = "JASPAR2022",
    n_best: int = 3,
    min_probability: float | None = None,
    hash_cache: Path | None = None,
) -> DenovoReport:
    """TF-MoDISco on an attribution folder's hypothetical contributions; TOMTOM against JASPAR.

    Parameters
    ----------
    attributions
        A folder of ``chromtransfer attribute --hypothetical``.
    out
        Report folder (must not exist; written under a temporary name, then renamed):
        ``patterns.tsv``, ``matches.tsv`` (the ``n_best`` JASPAR matches of each pattern),
        ``patterns.npz`` (``<pattern>.ppm``, ``<pattern>.cwm``: ``(w, 4)`` arrays, A C G T),
        ``provenance.json``.
    min_probability
        Only regions the model predicts at least this probability for (the paper analyses
        positive predictions); ``None`` keeps every region.
    """
    from chromtransfer_lib.genome.jaspar import load_jaspar
    from chromtransfer_lib.interpret.denovo import discover_motifs, match_jaspar

    out = Path(out)
    check_output(out, new_folder=True)
    attr = load_attributions(attributions)
    if attr.hypothetical is None:
        raise DenovoInputError(
            f"{attr.path} has no hypothetical contributions (hypothetical.npy): make the folder "
            "with `chromtransfer attribute --hypothetical`"
        )
    keep = np.arange(len(attr.codes))
    if min_probability is not None:
        keep = np.flatnonzero(attr.regions["probability"].to_numpy() >= min_probability)
    found = discover_motifs(attr.hypothetical[keep], one_hot(attr.codes[keep]))
    patterns = found.table()
    matches = match_jaspar(found.patterns, load_jaspar(jaspar_release), n_best=n_best)
    prov = provenance(
        {"attributions": attr.path / "provenance.json"}, hash_cache=hash_cache,
        n_regions=int(keep.size), jaspar_release=jaspar_release, n_best=n_best,
        min_probability=min_probability, modisco_seconds=found.seconds,
    )  # fmt: skip
    tmp = _temp_for(out)
    try:
        tmp.mkdir()
        patterns.to_csv(tmp / "patterns.tsv", sep="\t", index=False)
        matches.to_csv(tmp / "matches.tsv", sep="\t", index=False, float_format="%.6g")
        arrays = {f"{p.pattern_id}.{kind}": getattr(p, kind) for p in found.patterns
                  for kind in ("ppm", "cwm")}  # fmt: skip
        np.savez(tmp / "patterns.npz", **arrays)
        (tmp / "provenance.json").write_text(json.dumps(prov, indent=2))
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return DenovoReport(out, patterns, matches, found.seconds)
