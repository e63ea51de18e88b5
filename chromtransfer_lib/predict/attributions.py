"""Gradient × input (and ISM) of a model on every region of a BED, as an attribution folder.

The attributed output is the logit by default, as in the book
(:func:`chromtransfer_lib.interpret.attribution.target_model`); ``target="probability"``
differentiates the probability instead. See ARCHITECTURE.md for the layers.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from chromtransfer_lib.data.own import _temp_for, check_fasta_index, check_output, provenance
from chromtransfer_lib.errors import InputError
from chromtransfer_lib.genome.regions import read_bed
from chromtransfer_lib.genome.sequence import chrom_sizes, n_fraction
from chromtransfer_lib.predict.windows import read_windows


class AttributionFolderError(InputError, FileNotFoundError):
    """A folder given as attributions was not written by :func:`attribute_regions`."""


@dataclass(frozen=True)
class Attributions:
    """An attribution folder (:func:`attribute_regions`), arrays in row order of ``regions``."""

    path: Path
    regions: (
        pd.DataFrame
    )  #: chrom, start, end, name, window_start, window_end, n_fraction, probability
    codes: np.ndarray  #: uint8 ``(n, L)``
    grad_x_input: np.ndarray  #: float32 ``(n, L)``
    ism_delta: np.ndarray | None  #: float32 ``(n, L)`` or None
    provenance: dict[str, Any]
    hypothetical: np.ndarray | None = None  #: float32 ``(n, L, 4)`` (``hypothetical=True``)


_ATTR_FILES = ("regions.tsv", "codes.npy", "grad_x_input.npy", "provenance.json")


def attribute_regions(
    model: str | Path,
    *,
    genome: str | Path,
    regions_bed: str | Path,
    out_dir: str | Path,
    target: str = "logit",
    ism: bool = False,
    hypothetical: bool = False,
    seq_len: int | None = None,
    batch_size: int = 256,
    hash_cache: Path | None = None,
    progress: bool = False,
) -> Attributions:
    """Gradient × input (and, with ``ism``, ISM deltas) of a model on every region of a BED.

    Parameters
    ----------
    target
        What is differentiated (:data:`chromtransfer_lib.interpret.attribution.TARGETS`):
        ``"logit"`` (default, as in the book), the output neuron's pre-activation, or
        ``"probability"``. ISM deltas are changes of the same quantity.
    ism, batch_size
        Also in-silico mutagenesis (``3 L`` predictions per region, in its own batches of
        mutants); sequences per gradient call.
    hypothetical
        Also the hypothetical contributions (mean-centred gradients of every base,
        :func:`chromtransfer_lib.interpret.denovo.hypothetical_contributions`), the input of
        de novo motif discovery (``chromtransfer denovo``); ``hypothetical.npy``, float32
        ``(n, L, 4)``.

    Writes the folder ``out_dir`` (must not exist; written under a temporary name, then
    renamed): ``regions.tsv`` (the regions, their recentred windows, N fraction and predicted
    probability), ``codes.npy``, ``grad_x_input.npy`` and ``ism_delta.npy`` (float32
    ``(n, L)``), ``provenance.json`` (with ``target``). All arrays are held in memory: meant
    for up to ~10^5 regions.
    """
    out_dir = Path(out_dir)
    check_output(out_dir, new_folder=True)
    check_fasta_index(genome)
    sizes = chrom_sizes(genome)
    from chromtransfer_lib.data.pipeline import predict_proba
    from chromtransfer_lib.interpret.attribution import (
        grad_x_input,
        in_silico_mutagenesis,
        target_model,
    )
    from chromtransfer_lib.models.network import load_model

    net = load_model(model, expected_seq_len=seq_len)
    attributed = target_model(net, target=target)
    length = int(net.inputs[0].shape[1])
    regions = read_bed(regions_bed, chrom_sizes=sizes, on_duplicate="drop")
    table, codes = read_windows(genome, regions, seq_len=length, sizes=sizes)
    proba = predict_proba(net, codes).reshape(len(codes), -1)[:, 0]  # output 0 is attributed
    table = table.assign(n_fraction=n_fraction(codes).round(4), probability=proba)
    arrays = {"codes": codes,
              "grad_x_input": grad_x_input(attributed, codes, batch_size=batch_size,
                                           verbose=progress)}  # fmt: skip
    if ism:
        # --batch-size counts sequences per gradient call; ISM batches count mutants
        arrays["ism_delta"] = in_silico_mutagenesis(attributed, codes, verbose=progress).delta
    if hypothetical:
        from chromtransfer_lib.interpret.denovo import hypothetical_contributions

        arrays["hypothetical"] = hypothetical_contributions(
            attributed, codes, batch_size=batch_size, verbose=progress
        )
    prov = provenance({"model": model, "genome": genome, "regions": regions_bed},
                      hash_cache=hash_cache, seq_len=length, n_regions=len(table),
                      target=target)  # fmt: skip
    _write_folder(out_dir, table, arrays, prov)
    return load_attributions(out_dir)


def _write_folder(
    out_dir: Path, table: pd.DataFrame, arrays: dict[str, np.ndarray], prov: dict[str, Any]
) -> None:
    """The attribution folder, written under a temporary name and renamed when complete."""
    tmp = _temp_for(out_dir)
    try:
        tmp.mkdir()
        table.to_csv(tmp / "regions.tsv", sep="\t", index=False, float_format="%.6g")
        for name, arr in arrays.items():
            np.save(tmp / f"{name}.npy", arr, allow_pickle=False)
        (tmp / "provenance.json").write_text(json.dumps(prov, indent=2))
        tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def load_attributions(path: str | Path) -> Attributions:
    """Open a folder written by :func:`attribute_regions` (no pickle is ever loaded).

    Raises
    ------
    AttributionFolderError
        If a file of the folder is missing.
    """
    path = Path(path)
    missing = [f for f in _ATTR_FILES if not (path / f).is_file()]
    if missing:
        raise AttributionFolderError(
            f"{path} is not an attribution folder (missing {', '.join(missing)}); make one with "
            "`chromtransfer attribute`"
        )
    ism, hyp = path / "ism_delta.npy", path / "hypothetical.npy"
    return Attributions(
        path,
        pd.read_csv(path / "regions.tsv", sep="\t", keep_default_na=False, na_values=[""]),
        np.load(path / "codes.npy", allow_pickle=False),
        np.load(path / "grad_x_input.npy", allow_pickle=False),
        np.load(ism, allow_pickle=False) if ism.is_file() else None,
        json.loads((path / "provenance.json").read_text()),
        np.load(hyp, allow_pickle=False) if hyp.is_file() else None,
    )
