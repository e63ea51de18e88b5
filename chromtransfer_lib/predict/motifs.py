"""The paper's motif analysis on an attribution folder: JASPAR sites scored by attribution, KS.

:class:`MotifSettings` holds the thresholds (the CLI takes them from a profile's ``interpret``
section, flags override); :func:`motif_report` runs the analysis into an output folder;
:func:`motif_enrichment` is its computation. See ARCHITECTURE.md for the layers.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from chromtransfer_lib.data.own import _temp_for, check_output, provenance
from chromtransfer_lib.errors import InputError
from chromtransfer_lib.predict.attributions import (
    Attributions,
    attribute_regions,
    load_attributions,
)


class MotifInputError(InputError, ValueError):
    """The motif analysis was given no input, or no region passes its filter."""


@dataclass(frozen=True)
class MotifSettings:
    """What :func:`motif_report` scans and tests (a profile's ``interpret`` section).

    Attributes
    ----------
    jaspar_release
        JASPAR release whose CORE vertebrate matrices are scanned (pyjaspar).
    p_value
        Sites are hits with exact ``p < p_value`` on either strand.
    min_sites
        TFs tested need at least this many sites.
    fdr
        Benjamini–Hochberg level of ``significant``.
    min_probability
        Only regions predicted at least this (the paper: 0.5, positive predictions).
    motifs
        Only these JASPAR names or matrix IDs (default: every matrix).
    """

    jaspar_release: str
    p_value: float
    min_sites: int
    fdr: float
    min_probability: float = 0.0
    motifs: tuple[str, ...] | None = None


@dataclass(frozen=True)
class MotifResult:
    """Sites with their attribution scores, and the per-TF KS enrichment of each score."""

    sites: pd.DataFrame  #: scan hits + genome coordinates + grad_x_input (+ ism_delta)
    enrichment: pd.DataFrame  #: :func:`.enrichment.ks_enrichment` rows, with a ``score`` column
    unreachable: pd.DataFrame  #: matrices that cannot reach ``p_value``


def motif_report(
    out_dir: str | Path,
    *,
    settings: MotifSettings,
    attributions: str | Path | None = None,
    attribute: Mapping[str, Any] | None = None,
    hash_cache: Path | None = None,
    progress: bool = False,
) -> MotifResult:
    """Scan, score and test the regions of an attribution folder; write the report folder.

    Parameters
    ----------
    out_dir
        Output folder (must not exist; written atomically): ``enrichment.tsv``, ``sites.tsv``,
        ``unreachable.tsv``, ``provenance.json`` (:func:`write_motif_report`).
    settings
        Thresholds, JASPAR release and motifs.
    attributions, attribute
        An attribution folder (:func:`.attributions.attribute_regions`), or the keyword
        arguments of ``attribute_regions`` (``model``, ``genome``, ``regions_bed``, …) to make
        one in a temporary folder first. Exactly one.
    """
    out_dir = Path(out_dir)
    if (attributions is None) == (attribute is None):
        raise MotifInputError("give either attributions (a folder) or attribute (arguments of "
                              "attribute_regions)")  # fmt: skip
    check_output(out_dir, new_folder=True)
    matrices = _matrices(settings)
    with tempfile.TemporaryDirectory(dir=out_dir.parent, prefix=f".{out_dir.name}.") as tmp:
        if attributions is not None:
            attr = load_attributions(attributions)
        else:
            attr = attribute_regions(out_dir=Path(tmp) / "attributions", hash_cache=hash_cache,
                                     progress=progress, **attribute)  # fmt: skip
        result = motif_enrichment(
            attr, matrices, p_value=settings.p_value, min_sites=settings.min_sites,
            fdr=settings.fdr, min_probability=settings.min_probability,
        )  # fmt: skip
        facts = {k: v for k, v in dataclasses.asdict(settings).items() if k != "jaspar_release"}
        prov = provenance({}, attributions=attr.provenance, jaspar=settings.jaspar_release,
                          n_matrices=len(matrices), **facts)  # fmt: skip
        write_motif_report(out_dir, result, prov)
    return result


def _matrices(settings: MotifSettings) -> tuple[Any, ...]:
    """The CORE vertebrate matrices of the release, or the requested ones among them."""
    from chromtransfer_lib.genome.jaspar import load_jaspar, resolve_motifs

    matrices = load_jaspar(settings.jaspar_release)
    return resolve_motifs(settings.motifs, matrices) if settings.motifs else matrices


def motif_enrichment(
    attributions: Attributions,
    matrices: Sequence[Any],
    *,
    p_value: float,
    min_sites: int,
    fdr: float,
    min_probability: float = 0.0,
) -> MotifResult:
    """The paper's motif analysis on an attribution folder's regions.

    Sites with exact ``p < p_value`` on both strands
    (:func:`chromtransfer_lib.interpret.scan.scan_motifs`) in the regions predicted at
    ``>= min_probability``; each site scored by the max gradient × input (and min ISM delta)
    over its bases; per TF with ``>= min_sites`` sites a KS test against non-overlapping sites
    of other TFs, Benjamini–Hochberg at ``fdr``
    (:func:`chromtransfer_lib.interpret.enrichment.ks_enrichment`).
    """
    from chromtransfer_lib.interpret.enrichment import ks_enrichment, site_scores
    from chromtransfer_lib.interpret.scan import prepare_motifs, scan_motifs

    a = attributions
    rows = np.flatnonzero(a.regions["probability"].to_numpy(np.float64) >= min_probability)
    if rows.size == 0:
        raise MotifInputError(f"no region is predicted at probability >= {min_probability}")
    scan = scan_motifs(a.codes[rows], prepare_motifs(matrices, p_value=p_value))
    sites = site_scores(scan.hits, a.grad_x_input[rows], reduce="max", name="grad_x_input")
    scores = ["grad_x_input"]
    if a.ism_delta is not None:
        sites = site_scores(sites, a.ism_delta[rows], reduce="min", name="ism_delta")
        scores.append("ism_delta")
    tables = [
        ks_enrichment(sites, score_col=col, min_sites=min_sites, fdr=fdr).assign(score=col)
        for col in scores
    ]
    reg = a.regions.iloc[rows[sites["region"].to_numpy()]]
    sites = sites.assign(
        region=rows[sites["region"].to_numpy()],
        chrom=reg["chrom"].to_numpy(),
        genome_start=reg["window_start"].to_numpy() + sites["start"].to_numpy(),
        genome_end=reg["window_start"].to_numpy() + sites["end"].to_numpy(),
    )
    return MotifResult(sites, pd.concat(tables, ignore_index=True), scan.unreachable)


def write_motif_report(out_dir: str | Path, result: MotifResult, prov: dict[str, Any]) -> Path:
    """``enrichment.tsv``, ``sites.tsv``, ``unreachable.tsv``, ``provenance.json`` (atomic)."""
    out_dir = Path(out_dir)
    check_output(out_dir, new_folder=True)
    tmp = _temp_for(out_dir)
    try:
        tmp.mkdir()
        for name, df in (("enrichment", result.enrichment), ("sites", result.sites),
                         ("unreachable", result.unreachable)):  # fmt: skip
            df.to_csv(tmp / f"{name}.tsv", sep="\t", index=False, float_format="%.6g")
        (tmp / "provenance.json").write_text(json.dumps(prov, indent=2, default=str))
        tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir
