"""Training across machines (chromtransfer_lib.models.multiworker): TF_CONFIG parsing, and two
localhost CPU workers under MultiWorkerMirroredStrategy training the same model as one process
that trains with Keras' own ``fit``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cluster_workers import run_workers

from chromtransfer_lib.models.multiworker import ClusterConfigError, cluster_task, worker_out_dir

DRIVER = Path(__file__).with_name("multiworker_driver.py")
ROOT = DRIVER.parent.parent


def _tf_config(workers: list[str], index: int, *, chief: list[str] | None = None,
               task_type: str = "worker") -> dict[str, str]:  # fmt: skip
    cluster = {"worker": workers} | ({"chief": chief} if chief else {})
    return {"TF_CONFIG": json.dumps({"cluster": cluster,
                                     "task": {"type": task_type, "index": index}})}  # fmt: skip


def test_cluster_task_reads_tf_config():
    assert cluster_task({}) is None
    assert cluster_task(_tf_config(["a:1"], 0)) is None  # one worker: no cluster
    first, second = (cluster_task(_tf_config(["a:1", "b:1"], i)) for i in (0, 1))
    assert first.n_workers == second.n_workers == 2
    assert first.is_chief and not second.is_chief
    chief = cluster_task(_tf_config(["b:1"], 0, chief=["a:1"], task_type="chief"))
    worker0 = cluster_task(_tf_config(["b:1"], 0, chief=["a:1"]))
    assert chief.is_chief and not worker0.is_chief and chief.n_workers == 2


@pytest.mark.parametrize("raw, message", [
    ("{not json", "TF_CONFIG is not valid"),
    ('{"cluster": {"worker": ["a:1"]}}', "TF_CONFIG is not valid"),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "ps", "index": 0}}', "'chief' or 'worker'"),
    ('{"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 2}}',
     "index 2 is not in"),
])  # fmt: skip
def test_bad_tf_config_is_named(raw, message):
    with pytest.raises(ClusterConfigError, match=message):
        cluster_task({"TF_CONFIG": raw})


def test_only_the_chief_writes_the_run_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(**dict(zip(("name", "value"), ("TF_CONFIG", ""), strict=True)))
    assert worker_out_dir(tmp_path / "run") == tmp_path / "run"
    monkeypatch.setenv("TF_CONFIG", _tf_config(["a:1", "b:1"], 1)["TF_CONFIG"])
    assert worker_out_dir(tmp_path / "run") == tmp_path / "run.worker-1"
    monkeypatch.setenv("TF_CONFIG", _tf_config(["a:1", "b:1"], 0)["TF_CONFIG"])
    assert worker_out_dir(tmp_path / "run") == tmp_path / "run"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    return env | {"TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)} | extra


# ~90 s here: one process, then two that trace the step with its collectives (~40 s each).
def test_two_workers_train_the_same_model_as_one(tmp_path):
    from chromtransfer_lib.models.network import load_model

    done = subprocess.run([sys.executable, str(DRIVER), str(tmp_path / "one")], env=_env(),
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    run_workers([sys.executable, str(DRIVER), str(tmp_path / "two")], env=_env())
    one, chief, other = (load_model(tmp_path / f / "model.keras")
                         for f in ("one", "two", "two.worker-1"))  # fmt: skip
    norms = {m: [la for la in m.layers if la.__class__.__name__ == "BatchNormalization"]
             for m in (one, chief)}  # fmt: skip
    assert norms[chief] and all(la.synchronized for la in norms[chief])
    assert norms[one] and not any(la.synchronized for la in norms[one])
    names = [w.path for w in one.weights]
    for name, a, b, c in zip(names, one.get_weights(), chief.get_weights(), other.get_weights(),
                             strict=True):  # fmt: skip
        np.testing.assert_array_equal(b, c, err_msg=name)  # the workers hold one model
        np.testing.assert_allclose(b, a, rtol=1e-7, atol=1e-9, err_msg=name)  # = one worker's
    h1, h2 = (pd.read_csv(tmp_path / f / "history.csv") for f in ("one", "two"))
    assert len(h1) == len(h2) == 3
    for col in ("loss", "val_loss", "acc", "val_acc"):
        np.testing.assert_allclose(h2[col], h1[col], rtol=1e-7, err_msg=col)
    # trained: validation AUROC 0.42 -> 0.77 over the 3 epochs (so the agreement, to ~1e-11
    # here, is not that of two networks that never moved)
    assert h1["val_auroc"].iloc[-1] >= h1["val_auroc"].iloc[0] + 0.2, h1
