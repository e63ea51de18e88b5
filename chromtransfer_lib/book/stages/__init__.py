"""The book's stages, from a profile to artifacts: the glue between chapters and the library.

Chapters call these functions with a :class:`RunContext` (a loaded profile and a run
directory). Each stage maps the profile onto the explicit arguments of library functions and
caches its output in the run directory, keyed by the configuration that produced it, so a
chapter re-run — or a later chapter — reuses what is already there and never a stale artifact
(ARCHITECTURE.md, "book"). Chapters import this package (``from chromtransfer_lib.book import
stages``) and call ``stages.ensure_*``; the stages live in

* :mod:`.context` — :class:`RunContext`, :func:`start_chapter`, :func:`chapter_timing`;
* :mod:`.world` — :func:`ensure_world` (inputs), :func:`ensure_datasets`;
* :mod:`.training` — pre-training, the line models, the multiclass baseline, fold tables;
* :mod:`.grid` — the Table 1 bootstrap grid;
* :mod:`.jobs` — pending training jobs and training them on worker processes.

Run-directory layout::

    runs/<profile>/
      world/<source>-<hash>/     simulated world (or the paper's inputs, prepared)
      datasets/                  pretrain-<hash>/, finetune-<hash>/, multiclass-<hash>/
      models/pretrain-<hash>/fold_<k>/         the pre-trained model(s)
      models/<kind>-<line>-<hash>/fold_<k>/    finetune, scratch (binary baseline)
      models/multiclass-<hash>/fold_<k>/       the multiclass baseline
      models/bootstrap-<line>-<hash>/          Table 1 grid units
      metrics/<chapter>.json     numbers quoted by the book and the ledger
      interpret/                 cached attribution arrays, region sets and motif scans
      run-archive.json           in a fetched run only: the archive's manifest (run_archive.py)
"""

from __future__ import annotations

from chromtransfer_lib.book.stages.context import RunContext, chapter_timing, start_chapter
from chromtransfer_lib.book.stages.grid import (
    bootstrap_dir,
    bootstrap_grid,
    bootstrap_kinds,
    ensure_bootstrap,
)
from chromtransfer_lib.book.stages.jobs import pending_jobs, run_job, train_in_parallel
from chromtransfer_lib.book.stages.training import (
    KIND_LABELS,
    MODEL_KINDS,
    MulticlassResult,
    ensure_line_model,
    ensure_multiclass,
    ensure_pretrained,
    fold_epochs_table,
    line_model_builder,
    line_model_dir,
    line_test_predictions,
    multiclass_dir,
    multiclass_on_line,
    network_kwargs,
    pretrained_model,
    recipe,
)
from chromtransfer_lib.book.stages.world import Datasets, Inputs, ensure_datasets, ensure_world

__all__ = [
    "KIND_LABELS", "MODEL_KINDS", "Datasets", "Inputs", "MulticlassResult", "RunContext",
    "bootstrap_dir", "bootstrap_grid", "bootstrap_kinds", "chapter_timing", "ensure_bootstrap",
    "ensure_datasets",
    "ensure_line_model", "ensure_multiclass", "ensure_pretrained", "ensure_world",
    "fold_epochs_table", "line_model_builder", "line_model_dir", "line_test_predictions",
    "multiclass_dir", "multiclass_on_line", "network_kwargs", "pending_jobs", "pretrained_model",
    "recipe", "run_job", "start_chapter", "train_in_parallel",
]  # fmt: skip
