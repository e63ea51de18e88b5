"""A user's own data: build a dataset from a BED + FASTA and fine-tune on it; shared provenance.

The same code paths as the book (:mod:`.data` artifact machinery, :mod:`.model`,
:mod:`.bootstrap` cross-validation with resumable :mod:`.train` runs), with inputs given as
paths:

* :func:`build_own_dataset` — positives (a BED, or a ChromTransfer label file) against
  negatives from a BED or sampled from the genome: ``seq_len`` bp tiles on the positives'
  chromosomes that overlap no assembly gap (``gaps_bed`` or the FASTA's N runs), no blacklist
  interval and lie at least ``flank`` bp from every positive;
* :func:`finetune_own` — ChromTransfer from a pre-trained ``.keras`` model on that dataset.

Prediction, attribution and motif enrichment on a user's regions are in :mod:`.predict`,
which shares the input check and the provenance and atomic-output helpers defined here
(:func:`check_fasta_index`, :func:`provenance`, :func:`header_lines`, :func:`check_output`).
Every output is written to a temporary name and renamed when complete, and carries its
provenance: sha256 of the model, the genome and the region file, package versions and the git
SHA.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from chromtransfer_lib.config import ConfigError
from chromtransfer_lib.data import datasets as D
from chromtransfer_lib.errors import InputError
from chromtransfer_lib.genome.regions import (
    COLS,
    RegionError,
    gaps_from_fasta,
    mark_overlaps,
    read_bed,
    read_label_file,
    tile_genome,
)
from chromtransfer_lib.genome.sequence import FastaError, chrom_sizes

log = logging.getLogger(__name__)


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


# ------------------------------------------------------------------ provenance and atomic output


def package_versions() -> dict[str, str | None]:
    """Versions of this package and of the numerical stack (None if not installed)."""
    out = D._versions()
    for pkg in ("tensorflow", "keras", "scikit-learn", "pyjaspar"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


def provenance(
    files: Mapping[str, str | Path | None], *, hash_cache: Path | None = None, **facts: Any
) -> dict[str, Any]:
    """``{name: {path, sha256}}`` of input files (cached by size + mtime), facts, versions, SHA."""
    return {
        "inputs": {
            k: {"path": str(Path(p).resolve()), "sha256": D.sha256_file(p, cache=hash_cache)}
            for k, p in files.items()
            if p is not None
        },
        **facts,
        "versions": package_versions(),
        "git_sha": D._git_sha(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _alive(pid: int) -> bool:
    """Whether process ``pid`` is running (a zombie is not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def _temp_for(out: Path) -> Path:
    """A hidden temporary name beside ``out``; those of dead (killed) processes are removed."""
    for old in out.parent.glob(f".{out.name}.*.tmp"):
        pid = old.name.rsplit(".", 2)[-2]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
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


def _write_json(path: Path, obj: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=str))
    os.replace(tmp, path)


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


# ------------------------------------------------------------------ dataset and fine-tuning


def build_own_dataset(
    out_root: str | Path,
    *,
    genome: str | Path,
    seq_len: int,
    positives_bed: str | Path | None = None,
    negatives_bed: str | Path | None = None,
    labels: str | Path | None = None,
    cell_line: str | None = None,
    gaps_bed: str | Path | None = None,
    blacklist_bed: str | Path | None = None,
    negatives_per_positive: float = 3.0,
    test_chroms: Sequence[str] = ("chr2", "chr3"),
    n_folds: int = 3,
    flank: int = 300,
    max_n_fraction: float = 0.1,
    fold_group: str = "auto",
    random_state: int = 0,
    progress: bool = True,
) -> D.DatasetInfo:
    """A fine-tuning dataset artifact (:mod:`.data` layout) from a user's files.

    Give either ``positives_bed`` (plus ``negatives_bed``, or negatives sampled from the
    genome) or ``labels``, a ChromTransfer label file (rows ``chrN:start-end,LABEL``; both
    classes needed). Genome negatives: ``round(negatives_per_positive × positives)`` of the
    ``seq_len`` bp tiles of the positives' chromosomes that overlap no gap (``gaps_bed``, else
    the FASTA's N runs), no ``blacklist_bed`` interval and lie ``>= flank`` bp from every
    positive (seeded sample). BED negatives overlapping a positive are dropped (counted).
    Sequences are the central ``seq_len`` bp; windows off a chromosome or with more than
    ``max_n_fraction`` N are dropped (counted). ``split`` is ``test`` on ``test_chroms``; the
    rest gets ``n_folds`` folds (:func:`.regions.split_by_chromosome`). ``label`` is
    ``positive``/``negative``/``genome background`` (or the label file's), ``y`` 1/0.
    """
    if (positives_bed is None) == (labels is None):
        raise ValueError("give either positives_bed (a BED) or labels (a label file), not both")
    if labels is not None and negatives_bed is not None:
        raise ValueError("a label file already holds the negatives: do not also give negatives")
    paths = ("genome", "positives_bed", "negatives_bed", "labels", "gaps_bed", "blacklist_bed")
    args = {k: v for k, v in locals().items() if k not in ("out_root", "progress", "paths", *paths)}
    inputs = {k: v for k, v in locals().items() if k in paths}

    def make(tmp: Path, dropped: dict[str, int], warnings: list[str]) -> pd.DataFrame:
        sizes = chrom_sizes(genome)
        if labels is not None:
            df = read_label_file(
                labels, cell_line=cell_line, chrom_sizes=sizes, on_duplicate="drop"
            )
        else:
            pos = read_bed(positives_bed, chrom_sizes=sizes, on_duplicate="drop")
            pos = pos[COLS].assign(label="positive", y=1)
            if negatives_bed is not None:
                neg = read_bed(negatives_bed, chrom_sizes=sizes, on_duplicate="drop")
                neg = D._drop(
                    neg[COLS], mark_overlaps(neg, pos), "negative overlapping a positive", dropped
                )
                neg = neg.assign(label="negative", y=0)
            else:
                neg = _genome_negatives(pos, sizes, dropped, warnings)
            df = pd.concat([pos, neg], ignore_index=True)
        df = df.assign(
            name=df["chrom"] + ":" + df["start"].astype(str) + "-" + df["end"].astype(str)
        )
        df = D._write_codes(
            tmp,
            genome,
            df[[*COLS, "name", "label", "y"]],
            seq_len=seq_len,
            max_n_fraction=max_n_fraction,
            dropped=dropped,
            progress=progress,
        )
        df = df.assign(split=np.where(df["chrom"].isin(list(test_chroms)), "test", "train"))
        for split, part in df.groupby("split"):
            if part["y"].nunique() < 2:
                where = f"chromosomes {', '.join(test_chroms)}" if split == "test" else "others"
                only = "positives" if part["y"].iloc[0] else "negatives"
                raise RegionError(
                    f"the {split} set ({where}) has only {only} after filtering (dropped: "
                    f"{dropped or 'nothing'}); both classes are needed — choose --test-chroms "
                    "that hold positives, or give more regions"
                )
        if not (df["split"] == "test").any():
            raise RegionError(
                f"no region lies on the test chromosomes {list(test_chroms)} (chromosomes with "
                f"regions: {', '.join(df['chrom'].unique()[:8])}); choose others with --test-chroms"
            )
        return D._folds_and_checks(df, test_chroms=test_chroms, n_folds=n_folds,
                                   random_state=random_state, fold_group=fold_group,
                                   pretraining=None, warnings=warnings)  # fmt: skip

    def _genome_negatives(pos, sizes, dropped, warnings) -> pd.DataFrame:
        gaps = (read_bed(gaps_bed, chrom_sizes=sizes, on_duplicate="drop") if gaps_bed
                else gaps_from_fasta(genome, progress=progress))  # fmt: skip
        exclude = {"assembly gap": gaps}
        if blacklist_bed is not None:
            exclude["blacklist"] = read_bed(blacklist_bed, chrom_sizes=sizes, on_duplicate="drop")
        chroms = [c for c in sizes if c in set(pos["chrom"])]
        tiles = tile_genome(sizes, width=seq_len, exclude=exclude, positives=pos, flank=flank,
                            chroms=chroms)  # fmt: skip
        for reason, count in tiles.dropped.items():
            dropped[f"genome tile overlapping {reason}"] = count
        n_neg = round(negatives_per_positive * len(pos))
        if n_neg > len(tiles.windows):
            warnings.append(f"asked for {n_neg} negatives, only {len(tiles.windows)} tiles qualify")
            log.warning(warnings[-1])
            n_neg = len(tiles.windows)
        rng = np.random.default_rng(random_state)
        pick = np.sort(rng.choice(len(tiles.windows), size=n_neg, replace=False))
        return tiles.windows.iloc[pick].assign(label="genome background", y=0)

    return D._build(out_root, "own", args, inputs, make)


@dataclass(frozen=True)
class FinetuneResult:
    """A finished :func:`finetune_own`: the model to predict with, and how it scored."""

    out_dir: Path
    model_path: Path  #: ``out_dir/model.keras`` (the first trained fold's best model)
    dataset: D.DatasetInfo
    per_fold: pd.DataFrame  #: test metrics of each fold's model (chromosomes ``test_chroms``)
    summary_path: Path  #: ``out_dir/finetune.json``: provenance, counts, recipe, metrics


def finetune_own(
    out_dir: str | Path,
    *,
    genome: str | Path,
    pretrained: str | Path,
    fold_ids: Sequence[int] = (0,),
    head_units: Sequence[int] = (1024, 32),
    dropout: float = 0.1,
    freeze_trunk: bool = False,
    learning_rate: float = 5e-6,
    batch_size: int = 128,
    max_epochs: int = 100,
    patience: int = 10,
    monitor: str = "val_loss",
    random_state: int = 0,
    hash_cache: Path | None = None,
    progress: bool = True,
    **dataset_args: Any,
) -> FinetuneResult:
    """ChromTransfer on a user's data: pre-trained trunk + new head, trained as in the book.

    ``out_dir`` holds ``dataset/own-<key>/`` (:func:`build_own_dataset`, with
    ``dataset_args``), ``runs/fold_<k>/`` (resumable :func:`.train.train_model` runs via
    :func:`.bootstrap.cross_validate`), ``model.keras`` and ``finetune.json``. Re-running the
    same call resumes an interrupted run (exactly, on CPU) and reuses finished ones; if it fails
    before training starts in a folder it created, the folder is removed. The sequence length
    is the pre-trained model's input length.
    """
    from chromtransfer_lib.models.grids import Recipe, cross_validate
    from chromtransfer_lib.models.network import build_chromtransfer_model, load_model

    out_dir = Path(out_dir)
    pre = load_model(pretrained)
    seq_len = int(pre.inputs[0].shape[1])
    n_folds = int(dataset_args.get("n_folds", 3))
    if bad := [k for k in fold_ids if not 0 <= k < n_folds]:
        raise ConfigError(f"folds {bad} outside 0..{n_folds - 1} (the profile's data.n_folds)")
    check_fasta_index(genome)
    check_output(out_dir)
    created = not out_dir.exists()
    try:
        info = build_own_dataset(
            out_dir / "dataset",
            genome=genome,
            seq_len=seq_len,
            random_state=random_state,
            progress=progress,
            **dataset_args,
        )
        ds = D.load_dataset(info.path)
        folds = ds.regions["fold"].to_numpy()
        for k in fold_ids:
            if np.unique(ds.labels[folds == k]).size < 2:
                raise RegionError(
                    f"validation fold {k} holds one class only ({int((folds == k).sum())} "
                    "regions); give more regions or other folds"
                )
    except BaseException:
        if created:  # nothing trained yet: leave no partial output
            shutil.rmtree(out_dir, ignore_errors=True)
        raise

    def build(seed: int):
        return build_chromtransfer_model(pre, head_units=head_units, dropout=dropout,
                                         freeze_trunk=freeze_trunk, random_state=seed)  # fmt: skip

    recipe = Recipe(learning_rate, batch_size, max_epochs, patience, monitor)
    cv = cross_validate(build, recipe, codes=ds.codes, labels=ds.labels, folds=folds,
                        out_dir=out_dir / "runs", random_state=random_state, fold_ids=fold_ids,
                        progress=progress)  # fmt: skip
    model_path = out_dir / "model.keras"
    tmp = out_dir / f".model.keras.{os.getpid()}.tmp"
    shutil.copyfile(cv.runs[0].model_path, tmp)
    os.replace(tmp, model_path)
    files = {"genome": genome, "pretrained": pretrained, "model": model_path}
    files.update({k: dataset_args.get(k) for k in ("positives_bed", "negatives_bed", "labels")})
    summary = provenance(
        files, hash_cache=hash_cache, seq_len=seq_len, dataset=str(info.path),
        counts=info.counts, recipe=recipe._asdict(), head_units=list(head_units),
        freeze_trunk=freeze_trunk, random_state=random_state, folds=list(fold_ids),
        model_from_fold=int(fold_ids[0]), test_metrics=cv.per_fold.to_dict(orient="records"),
    )  # fmt: skip
    _write_json(out_dir / "finetune.json", summary)
    return FinetuneResult(out_dir, model_path, info, cv.per_fold, out_dir / "finetune.json")
