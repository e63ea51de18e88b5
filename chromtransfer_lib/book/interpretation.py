"""What the interpretation chapters (6 and 7) call: three bundles of cached stages.

* :func:`ensure_attribution` → :class:`Attribution`, everything both chapters share: the
  interpreted models, the analysed regions (each line's positive predictions and their union),
  every model's gradient × input of the logit on them, the JASPAR scan and the world's ground
  truth in window coordinates;
* :func:`ensure_ism_check` → :class:`IsmCheck`, chapter 6's comparison with in-silico
  mutagenesis (and :func:`ensure_probability_gxi`, the probability target it is contrasted
  with);
* :func:`motif_enrichment` → :class:`.interpret_analyses.Enrichment`, chapter 7's KS analyses
  with the tested TFs' look-alike clusters.

The cached stages behind them are in :mod:`.interpret_cache`; the tables, figures and glued
numbers built from the bundles in :mod:`.interpret_tables`, :mod:`.interpret_figures` and
:mod:`.interpret_numbers` (ARCHITECTURE.md, book layer).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from chromtransfer_lib.book import stages
from chromtransfer_lib.book.interpret_analyses import (
    Enrichment,
    agreement_factors,
    ism_site_table,
    run_enrichment,
    tf_matrix_ids,
)
from chromtransfer_lib.book.interpret_cache import (
    InterpretModels,
    Scan,
    ensure_attributions,
    ensure_ism,
    ensure_models,
    ensure_region_set,
    ensure_scan,
)
from chromtransfer_lib.book.interpret_regions import RegionSet, pick_rows
from chromtransfer_lib.book.interpret_truth import planted_in_windows, world_drivers
from chromtransfer_lib.config import InterpretConfig
from chromtransfer_lib.interpret.attribution import TARGETS, logit_model  # noqa: F401 (re-exported)


@dataclass(frozen=True)
class Attribution:
    """Everything chapters 6 and 7 share: models, regions, attributions, scan, ground truth.

    ``gxi`` and ``proba`` map a model key to gradient × input of the logit ``(n, L)`` and
    probabilities ``(n,)`` on every analysed region; ``planted`` is the world's ground truth in
    window coordinates (:func:`.interpret_truth.planted_in_windows`; ``None`` on real data);
    ``drivers`` maps a line to its expected drivers → matrix ID (``None`` where unknown).
    """

    run_dir: Path
    config: InterpretConfig
    seed: int
    source: str
    models: InterpretModels
    regions: RegionSet
    gxi: dict[str, np.ndarray]
    proba: dict[str, np.ndarray]
    scan: Scan
    planted: pd.DataFrame | None
    drivers: dict[str, dict[str, str | None]]


def ensure_attribution(ctx: stages.RunContext) -> Attribution:
    """The world, datasets and models (through :mod:`.stages`), the analysed regions, every
    model's gradient × input of the logit on them, the motif scan and the ground truth."""
    prof = ctx.profile
    inputs = stages.ensure_world(ctx)
    datasets = stages.ensure_datasets(ctx, inputs)
    models = ensure_models(ctx, datasets)
    regions = ensure_region_set(ctx, datasets, models)
    gxi, proba = ensure_attributions(ctx, models, regions)
    scan = ensure_scan(ctx, regions)
    truth = pd.read_csv(inputs.ground_truth, sep="\t") if inputs.ground_truth else None
    roles = pd.read_csv(inputs.motifs, sep="\t") if inputs.motifs else None
    return Attribution(
        run_dir=Path(ctx.run_dir),
        config=prof.interpret,
        seed=prof.seed,
        source=prof.data.source,
        models=models,
        regions=regions,
        gxi=gxi,
        proba=proba,
        scan=scan,
        planted=None if truth is None else planted_in_windows(truth, regions.regions),
        drivers=world_drivers(roles, prof.simulation.drivers),
    )


def ensure_probability_gxi(
    ctx: stages.RunContext, att: Attribution, *, line: str = "HepG2"
) -> np.ndarray:
    """Gradient × input of the *probability* of ``line``'s model on every region ``(n, L)``
    (cached): what the logit target is compared with (:func:`.interpret_tables.saturation_table`).
    """
    gxi, _ = ensure_attributions(ctx, att.models, att.regions, target="probability", only=[line])
    return gxi[line]


@dataclass(frozen=True)
class IsmCheck:
    """Gradient × input against ISM on a seeded sample of one model's true positives (Fig S3).

    ``delta`` is ``(len(rows), L)``; ``sites`` the predicted sites in ``rows`` with ``gxi_max``,
    ``ism_min`` and ``ism_importance``; ``agreement`` the correlations over all sites and per TF
    (:func:`~chromtransfer_lib.interpret.enrichment.attribution_agreement`); ``factors`` the
    Fig S3 factors present.
    """

    line: str
    rows: np.ndarray
    delta: np.ndarray
    sites: pd.DataFrame
    agreement: pd.DataFrame
    factors: list[str]


def ensure_ism_check(ctx: stages.RunContext, att: Attribution, *, line: str = "HepG2") -> IsmCheck:
    """ISM of ``line``'s model on ``interpret.ism_regions`` seeded true positives (cached), and
    its agreement with gradient × input over the predicted sites there."""
    from chromtransfer_lib.interpret.enrichment import attribution_agreement

    cfg = att.config
    rows = pick_rows(
        att.regions, att.proba[line], line=line, n=cfg.ism_regions, random_state=att.seed
    )
    delta = ensure_ism(ctx, att.models, att.regions, model=line, rows=rows)
    sites = ism_site_table(att.scan.hits, att.gxi[line], delta, rows)
    agreement = attribution_agreement(
        sites, x="gxi_max", y="ism_importance", min_sites=min(10, cfg.min_sites)
    )
    return IsmCheck(line, rows, delta, sites, agreement, agreement_factors(sites["tf"]))


def motif_enrichment(att: Attribution) -> Enrichment:
    """KS enrichment of every analysis (:func:`.interpret_analyses.run_enrichment`) at the
    profile's ``min_sites`` and ``fdr``, with the tested TFs' look-alike clusters."""
    from chromtransfer_lib.genome.jaspar import load_jaspar
    from chromtransfer_lib.interpret.clusters import tf_clusters

    cfg = att.config
    enr = run_enrichment(att.scan.hits, att.gxi, att.regions, min_sites=cfg.min_sites, fdr=cfg.fdr)
    tf_ids = tf_matrix_ids(att.scan.hits)
    clusters = tf_clusters({t: tf_ids[t] for t in enr.tested()}, load_jaspar())
    return enr.with_clusters(clusters)
