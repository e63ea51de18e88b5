"""Prepared datasets: genome FASTA + region files → artifact folders, in one import.

One code path serves the simulated world, the paper's data and a user's own files: builders
take explicit paths. The pieces live by what they do —

* :mod:`.artifacts` — the folder layout, keying, reuse, completeness, provenance, loading
  (:class:`Dataset`, :func:`load_dataset`, :class:`DatasetInfo`);
* :mod:`.steps` — what every builder shares (:class:`DatasetSpec`, :class:`NegativeSampling`,
  extraction, negatives, folds, the leakage check);
* :mod:`.pretraining` — :func:`build_pretraining_dataset` (:class:`PretrainingInputs`);
* :mod:`.finetuning` — :func:`build_finetuning_dataset`, :func:`build_multiclass_dataset`;
* :mod:`.own` — a user's own files (:func:`~.own.build_own_dataset`).

This module re-exports their public names (ARCHITECTURE.md, "data").
"""

from __future__ import annotations

from chromtransfer_lib.data.artifacts import (
    ARTIFACT_FILES,
    FORMAT_VERSION,
    BuildLog,
    Dataset,
    DatasetInfo,
    Partition,
    build_artifact,
    is_complete,
    load_dataset,
    sha256_file,
)
from chromtransfer_lib.data.finetuning import build_finetuning_dataset, build_multiclass_dataset
from chromtransfer_lib.data.pretraining import PretrainingInputs, build_pretraining_dataset
from chromtransfer_lib.data.steps import (
    DatasetSpec,
    LeakageError,
    NegativeSampling,
    check_leakage,
)

__all__ = [
    "ARTIFACT_FILES",
    "FORMAT_VERSION",
    "BuildLog",
    "Dataset",
    "DatasetInfo",
    "DatasetSpec",
    "LeakageError",
    "NegativeSampling",
    "Partition",
    "PretrainingInputs",
    "build_artifact",
    "build_finetuning_dataset",
    "build_multiclass_dataset",
    "build_pretraining_dataset",
    "check_leakage",
    "is_complete",
    "load_dataset",
    "sha256_file",
]
