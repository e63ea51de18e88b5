"""A stand-in :class:`~chromtransfer_lib.book.interpretation.Attribution` for tests of the
interpretation chapters' stages (chapter 7's MoDISco runs, chapter 8's variants): given windows,
their membership per line and tiny Keras models, without the simulator or trained models.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from chromtransfer_lib.book.interpret_cache import InterpretModels
from chromtransfer_lib.book.interpret_regions import RegionSet
from chromtransfer_lib.book.interpretation import Attribution
from chromtransfer_lib.config import InterpretConfig


def random_model(length: int, seed: int, *, filters: int = 8, width: int = 9):
    """A random Conv1D → global average pool → sigmoid model on one-hot ``(length, 4)``."""
    import keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input((length, 4))
    x = keras.layers.Conv1D(filters, width, activation="relu")(inp)
    x = keras.layers.GlobalAveragePooling1D()(x)
    return keras.Model(inp, keras.layers.Dense(1, activation="sigmoid")(x))


def fake_attribution(
    tmp: Path,
    codes: np.ndarray,
    in_line: Mapping[str, np.ndarray],
    models: Mapping[str, object],
    *,
    drivers: Mapping[str, Mapping[str, str | None]],
    planted: pd.DataFrame | None = None,
    seed: int = 1,
) -> Attribution:
    """An Attribution over ``codes`` (windows ``chr1:1000 i``), ``in_line`` the boolean
    ``in_<line>`` columns, ``models`` by key, each "saved" as a small file under ``tmp`` whose
    text is its key (so :func:`~chromtransfer_lib.book.interpret_cache.file_key` tells them
    apart, and rewriting one is a retrained model)."""
    n, length = codes.shape
    member = {f"in_{k}": np.asarray(v, bool) for k, v in in_line.items()}
    start = 1000 * np.arange(n)
    regions = pd.DataFrame({"chrom": "chr1", "start": start, "end": start + length, **member})
    paths = {}
    for key in models:
        paths[key] = tmp / f"{key}.keras"
        paths[key].write_text(key)
    cfg = InterpretConfig(max_regions=n, ism_regions=2, p_value=1e-4, min_sites=5, fdr=0.05,
                          example_regions=1, jaspar_release="JASPAR2022")  # fmt: skip
    return Attribution(
        run_dir=tmp, config=cfg, seed=seed, source="simulated",
        models=InterpretModels(dict(models), paths),
        regions=RegionSet(codes, regions, "regionkey", pd.DataFrame()), gxi={}, proba={},
        scan=None, planted=planted, drivers={k: dict(v) for k, v in drivers.items()},
    )  # fmt: skip


class _Refuses:
    def __getattr__(self, name):
        raise AssertionError("a cached result was recomputed with a model")


def refusing_models(att: Attribution) -> Attribution:
    """``att`` whose models raise when used (same files): a stage must read its cache."""
    models = InterpretModels({k: _Refuses() for k in att.models.models}, att.models.paths)
    return replace(att, models=models)
