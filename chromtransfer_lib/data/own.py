"""A user's own data: a dataset from a BED (or label file) + FASTA; shared input and output checks.

The same code paths as the book (:mod:`.artifacts`, :mod:`.steps`), with inputs given as paths:

* :func:`build_own_dataset` — positives (a BED, or a ChromTransfer label file) against
  negatives from a BED or sampled from the genome: ``seq_len`` bp tiles on the positives'
  chromosomes that overlap no assembly gap (``gaps_bed`` or the FASTA's N runs), no blacklist
  interval and lie at least ``flank`` bp from every positive.

Fine-tuning on it is :func:`chromtransfer_lib.models.own.finetune_own`; prediction, attribution
and motif enrichment on a user's regions are in :mod:`chromtransfer_lib.predict`. Both share the
input check and the provenance and output helpers defined here (:func:`check_fasta_index`,
:func:`provenance`, :func:`header_lines`, :func:`check_output`). Every output is written to a
temporary name and renamed when complete, and carries its provenance: sha256 of the model, the
genome and the region file, package versions and the git SHA. ARCHITECTURE.md, "data".
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from chromtransfer_lib.data.artifacts import (
    BuildLog,
    DatasetInfo,
    build_artifact,
    git_sha,
    input_checksums,
    process_alive,
)
from chromtransfer_lib.data.artifacts import package_versions as _data_versions
from chromtransfer_lib.data.steps import (
    DatasetSpec,
    NegativeSampling,
    assign_folds,
    drop_rows,
    locus_names,
    sample_genome_negatives,
    write_codes,
)
from chromtransfer_lib.errors import InputError
from chromtransfer_lib.genome.labels import read_label_file
from chromtransfer_lib.genome.regions import COLS, RegionError, mark_overlaps, read_bed
from chromtransfer_lib.genome.sequence import FastaError, chrom_sizes

log = logging.getLogger(__name__)

#: Own data: three genome negatives per positive unless asked otherwise.
OWN_NEGATIVES = NegativeSampling(negatives_per_positive=3.0)


# ------------------------------------------------------------------ inputs


def check_fasta_index(fasta: str | Path) -> None:
    """Fail early, and clearly, when a FASTA has no ``.fai`` and none can be written beside it."""
    fasta = Path(fasta)
    if not fasta.is_file():
        raise FastaError(f"FASTA file {fasta} does not exist")
    fai = fasta.with_name(fasta.name + ".fai")
    if not fai.is_file() and not os.access(fasta.parent, os.W_OK):
        raise FastaError(
            f"{fasta} has no index ({fai.name}) and its folder {fasta.parent} is read-only, so "
            f"the index cannot be built. Run `samtools faidx {fasta}` as someone who can write "
            "there, or link the FASTA into a writable folder (`ln -s` it) and pass that path."
        )


@dataclasses.dataclass(frozen=True)
class OwnInputs:
    """A user's files: the genome and either ``positives_bed`` (plus an optional
    ``negatives_bed``; without one, negatives are sampled from the genome) or ``labels``, a
    ChromTransfer label file of line ``cell_line`` (rows ``chrN:start-end,LABEL``).
    ``gaps_bed``/``blacklist_bed`` restrict genome negatives."""

    genome: str | Path
    positives_bed: str | Path | None = None
    negatives_bed: str | Path | None = None
    labels: str | Path | None = None
    cell_line: str | None = None
    gaps_bed: str | Path | None = None
    blacklist_bed: str | Path | None = None

    def __post_init__(self) -> None:
        if (self.positives_bed is None) == (self.labels is None):
            raise ValueError("give either positives_bed (a BED) or labels (a label file), not both")
        if self.labels is not None and self.negatives_bed is not None:
            raise ValueError("a label file already holds the negatives: do not also give negatives")

    def files(self) -> dict[str, str | Path | None]:
        """The input files by name (``None`` for those not given)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "cell_line"}


# ------------------------------------------------------------------ provenance and atomic output


def package_versions() -> dict[str, str | None]:
    """Versions of this package, the numerical stack and the model stack (None if absent)."""
    return _data_versions(("tensorflow", "keras", "scikit-learn", "pyjaspar"))


def provenance(
    files: Mapping[str, str | Path | None], *, hash_cache: Path | None = None, **facts: Any
) -> dict[str, Any]:
    """``{name: {path, sha256}}`` of input files (cached by size + mtime), facts, versions, SHA."""
    resolved = {k: Path(p).resolve() for k, p in files.items() if p is not None}
    return {
        "inputs": input_checksums(resolved, cache=hash_cache),
        **facts,
        "versions": package_versions(),
        "git_sha": git_sha(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _temp_for(out: Path) -> Path:
    """A hidden temporary name beside ``out``; those of dead (killed) processes are removed."""
    for old in out.parent.glob(f".{out.name}.*.tmp"):
        pid = old.name.rsplit(".", 2)[-2]
        if pid.isdigit() and int(pid) != os.getpid() and not process_alive(int(pid)):
            shutil.rmtree(old) if old.is_dir() else old.unlink(missing_ok=True)
    return out.with_name(f".{out.name}.{os.getpid()}.tmp")


class OutputPathError(InputError, OSError):
    """An output path cannot be written: its folder is missing or read-only, or it exists."""


def check_output(out: str | Path, *, new_folder: bool = False) -> None:
    """Raise :class:`OutputPathError` unless ``out`` can be written (and, if asked, is new)."""
    out = Path(out)
    if not out.parent.is_dir():
        raise OutputPathError(f"output folder {out.parent} does not exist; create it first")
    if not os.access(out.parent, os.W_OK):
        raise OutputPathError(f"output folder {out.parent} is not writable")
    if new_folder and out.exists():
        raise OutputPathError(f"{out} already exists; choose another output folder")


def header_lines(prov: Mapping[str, Any], title: str) -> str:
    """Provenance as ``# key: value`` lines (TSV outputs; ``pandas.read_csv(comment="#")``)."""
    out = [f"# {title}"]
    for k, v in prov["inputs"].items():
        out.append(f"# {k}: {v['path']} sha256={v['sha256']}")
    for k, v in prov.items():
        if k not in ("inputs", "versions"):
            out.append(f"# {k}: {v}")
    out.append("# versions: " + " ".join(f"{k}={v}" for k, v in prov["versions"].items()))
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------ the dataset


def _own_regions(
    inputs: OwnInputs, *, spec: DatasetSpec, negatives: NegativeSampling, blog: BuildLog,
    progress: bool,
) -> pd.DataFrame:  # fmt: skip
    """Positives and negatives (``chrom, start, end, label, y``) before extraction."""
    sizes = chrom_sizes(inputs.genome)
    if inputs.labels is not None:
        return read_label_file(
            inputs.labels, cell_line=inputs.cell_line, chrom_sizes=sizes, on_duplicate="drop"
        )
    pos = read_bed(inputs.positives_bed, chrom_sizes=sizes, on_duplicate="drop")
    pos = pos[COLS].assign(label="positive", y=1)
    if inputs.negatives_bed is not None:
        neg = read_bed(inputs.negatives_bed, chrom_sizes=sizes, on_duplicate="drop")
        hit = mark_overlaps(neg, pos)
        neg = drop_rows(neg[COLS], hit, "negative overlapping a positive", blog)
        neg = neg.assign(label="negative", y=0)
    else:
        neg = sample_genome_negatives(
            inputs.genome, pos, width=spec.seq_len, sampling=negatives, n_positives=len(pos),
            gaps_bed=inputs.gaps_bed, blacklist_bed=inputs.blacklist_bed,
            random_state=spec.random_state, blog=blog, reason_prefix="genome tile overlapping",
            progress=progress,
        )  # fmt: skip
        neg = neg.assign(label="genome background", y=0)
    return pd.concat([pos, neg], ignore_index=True)


def _check_both_classes(df: pd.DataFrame, spec: DatasetSpec, blog: BuildLog) -> None:
    """Both splits must hold both classes, and the test chromosomes must hold regions."""
    test_chroms = spec.test_chroms
    for split, part in df.groupby("split"):
        if part["y"].nunique() < 2:
            where = f"chromosomes {', '.join(test_chroms)}" if split == "test" else "others"
            only = "positives" if part["y"].iloc[0] else "negatives"
            raise RegionError(
                f"the {split} set ({where}) has only {only} after filtering (dropped: "
                f"{blog.dropped or 'nothing'}); both classes are needed — choose --test-chroms "
                "that hold positives, or give more regions"
            )
    if not (df["split"] == "test").any():
        raise RegionError(
            f"no region lies on the test chromosomes {list(test_chroms)} (chromosomes with "
            f"regions: {', '.join(df['chrom'].unique()[:8])}); choose others with --test-chroms"
        )


def build_own_dataset(
    out_root: str | Path,
    inputs: OwnInputs,
    *,
    spec: DatasetSpec,
    negatives: NegativeSampling = OWN_NEGATIVES,
    progress: bool = True,
) -> DatasetInfo:
    """A fine-tuning dataset artifact (:mod:`.artifacts` layout, ``own-<key>``) from a user's files.

    Genome negatives (no ``inputs.negatives_bed``, no label file):
    ``round(negatives.negatives_per_positive × positives)`` of the ``spec.seq_len`` bp tiles of
    the positives' chromosomes that overlap no gap (``gaps_bed``, else the FASTA's N runs), no
    ``blacklist_bed`` interval and lie ``>= negatives.flank`` bp from every positive (seeded
    sample). BED negatives overlapping a positive are dropped (counted). Sequences are the
    central ``seq_len`` bp; windows off a chromosome or with more than ``max_n_fraction`` N are
    dropped (counted). ``split`` is ``test`` on ``spec.test_chroms``; the rest gets
    ``spec.n_folds`` folds (:func:`.splits.split_by_chromosome`). ``label`` is
    ``positive``/``negative``/``genome background`` (or the label file's), ``y`` 1/0.
    """
    args = {
        **dataclasses.asdict(spec),
        **dataclasses.asdict(negatives),
        "cell_line": inputs.cell_line,
    }

    def make(tmp: Path, blog: BuildLog) -> pd.DataFrame:
        df = _own_regions(inputs, spec=spec, negatives=negatives, blog=blog, progress=progress)
        df = df.assign(name=locus_names(df))
        df = write_codes(
            tmp, inputs.genome, df[[*COLS, "name", "label", "y"]], seq_len=spec.seq_len,
            max_n_fraction=spec.max_n_fraction, blog=blog, progress=progress,
        )  # fmt: skip
        test = df["chrom"].isin(list(spec.test_chroms))
        df = df.assign(split=np.where(test, "test", "train"))
        _check_both_classes(df, spec, blog)
        return assign_folds(df, spec=spec, blog=blog)

    return build_artifact(out_root, "own", args, inputs.files(), make)
