"""One worker of tests/test_multiworker.py: trains a smoke-width pre-training network with
:func:`chromtransfer_lib.models.train.train_model` in float64 under
:func:`~chromtransfer_lib.models.devices.distribution_scope` (``MultiWorkerMirroredStrategy``
when ``TF_CONFIG`` names several workers, else plain Keras ``fit``).

Usage: ``python multiworker_driver.py OUT_DIR``; writes ``OUT_DIR`` (chief, or alone) or
``OUT_DIR.worker-<i>``.
"""

from __future__ import annotations

import sys

import keras
import numpy as np

from chromtransfer_lib.models.devices import distribution_scope
from chromtransfer_lib.models.multiworker import cluster_strategy, worker_out_dir
from chromtransfer_lib.models.network import build_pretrain_model
from chromtransfer_lib.models.train import Recipe, train_model

SEQ_LEN, N_TRAIN, N_VAL = 120, 150, 48
MOTIF = np.array([2, 0, 3, 0, 1, 2, 0, 3], dtype=np.uint8)  # GATAGCAT... as codes (ACGT=0123)


def data(random_state: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random codes; the motif planted in the middle of every positive."""
    rng = np.random.default_rng(random_state)
    n = N_TRAIN + N_VAL
    codes = rng.integers(0, 4, size=(n, SEQ_LEN)).astype(np.uint8)
    labels = (rng.random(n) < 0.5).astype(np.float32)
    mid = SEQ_LEN // 2
    codes[labels == 1, mid : mid + MOTIF.size] = MOTIF
    return codes, labels


def main(out: str) -> None:
    cluster_strategy()  # before TensorFlow runs anything
    keras.config.set_floatx("float64")  # round-off too small for Adam to amplify in 3 epochs
    codes, labels = data()
    recipe = Recipe(learning_rate=3e-3, batch_size=16, max_epochs=3, patience=3,
                    batchnorm_refresh=64)  # fmt: skip
    with distribution_scope():
        model = build_pretrain_model(seq_len=SEQ_LEN, stem_filters=8, res1_filters=8,
                                     res2_filters=8, top_filters=8, head_units=(16,),
                                     dropout=0.0, random_state=1)  # fmt: skip
        train_model(model, recipe, train=(codes, labels, np.arange(N_TRAIN)),
                    val=(codes, labels, np.arange(N_TRAIN, N_TRAIN + N_VAL)),
                    out_dir=worker_out_dir(out), random_state=2, progress=False)  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1])
