"""Training across machines: ``MultiWorkerMirroredStrategy`` from ``TF_CONFIG``.

A cluster job starts one process per machine with ``TF_CONFIG`` naming every worker and its
own index (Slurm, Kubernetes and TensorFlow's own launchers write it; workflow/README.md)::

    TF_CONFIG='{"cluster": {"worker": ["node1:12345", "node2:12345"]},
                "task": {"type": "worker", "index": 0}}' chromtransfer pretrain ...

:func:`cluster_strategy` reads it and returns the strategy (``None`` for one worker), which
:func:`~chromtransfer_lib.models.devices.distribution_scope` enters. Every worker runs the same
command on the same inputs; each global batch is split between the workers
(``AutoShardPolicy.DATA``), gradients are summed over all of them, and only the *chief*
(``task.type == "chief"``, or worker 0 when the cluster names no chief) writes the run folder:
each other worker writes the same files to ``<out>.worker-<i>`` (:func:`worker_out_dir`), so
that every worker resumes from its own backup after the job is restarted (the epochs end
together on all workers; a kill that falls between two workers' backups of one epoch leaves
them one epoch apart, and the restarted job then stops with TensorFlow's collective error).

Why a hand-written epoch: Keras 3 (3.15 on TensorFlow 2.21) cannot ``fit`` or ``evaluate``
under this strategy (its data adapter fails to convert the ``PerReplica`` batches;
keras-team/keras#20585), and no maintained library does it for Keras 3. :func:`fit_epoch` is
the plain ``strategy.run`` loop of TensorFlow's custom-training guide: per-example losses
summed and divided by the *actual* global batch size (so a last, smaller batch weighs as in
``fit``), plus the model's regularisation losses once per step; :func:`evaluate` runs the
validation set on each worker locally (the weights are the same everywhere), so early stopping
takes the same decision on every worker without communication.

Same model as one worker: with ``BatchNormalization(synchronized=True)`` (the network builder
sets it when a cluster strategy is active) batch statistics are those of the global batch, so
without dropout the weights after an epoch match a one-worker run's to float32 round-off
(tests/test_multiworker.py). With dropout the masks are drawn per replica, so the runs are
equivalent in distribution but not numerically equal.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from chromtransfer_lib.errors import InputError

log = logging.getLogger(__name__)

__all__ = ["ClusterConfigError", "ClusterTask", "cluster_strategy", "cluster_task", "evaluate",
           "fit_epoch", "is_multiworker", "worker_out_dir"]  # fmt: skip


class ClusterConfigError(InputError, ValueError):
    """``TF_CONFIG`` is not the JSON TensorFlow documents (printed by the CLI as bad input)."""


@dataclass(frozen=True)
class ClusterTask:
    """This process's place in the cluster described by ``TF_CONFIG``."""

    n_workers: int
    """Processes that train (workers plus a chief, if the cluster names one)."""
    task_type: str
    index: int
    has_chief: bool = False
    """Whether the cluster names a ``chief`` task."""

    @property
    def is_chief(self) -> bool:
        """Whether this process writes the run folder."""
        if self.has_chief:
            return self.task_type == "chief"
        return self.index == 0


def cluster_task(environ: dict[str, str] | None = None) -> ClusterTask | None:
    """The task ``TF_CONFIG`` describes, or None when it is unset or names one worker.

    Raises :class:`ClusterConfigError` (naming the variable) when ``TF_CONFIG`` is not the
    JSON TensorFlow documents:
    ``{"cluster": {"worker": [...], "chief": [...]?}, "task": {"type", "index"}}``.
    """
    raw = (os.environ if environ is None else environ).get("TF_CONFIG", "").strip()
    if not raw:
        return None
    try:
        spec = json.loads(raw)
        cluster, task = spec["cluster"], spec["task"]
        chiefs, workers = list(cluster.get("chief", [])), list(cluster.get("worker", []))
        task_type, index = str(task["type"]), int(task["index"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ClusterConfigError(
            f"TF_CONFIG is not valid: {exc}; expected JSON like "
            '{"cluster": {"worker": ["host1:port", "host2:port"]}, '
            '"task": {"type": "worker", "index": 0}}'
        ) from exc
    n = len(chiefs) + len(workers)
    if task_type not in {"chief", "worker"}:
        raise ClusterConfigError(
            f"TF_CONFIG task type must be 'chief' or 'worker', got {task_type!r}"
        )
    members = chiefs if task_type == "chief" else workers
    if not 0 <= index < len(members):
        raise ClusterConfigError(
            f"TF_CONFIG task index {index} is not in the cluster's {task_type} list"
        )
    if n <= 1:
        return None
    return ClusterTask(n, task_type, index, has_chief=bool(chiefs))


@functools.cache
def cluster_strategy() -> tf.distribute.MultiWorkerMirroredStrategy | None:
    """The process's ``MultiWorkerMirroredStrategy`` when ``TF_CONFIG`` names several workers.

    Created once per process (TensorFlow allows one collective setup per process); it blocks
    until every worker has started.
    """
    task = cluster_task()
    if task is None:
        return None
    log.info("MultiWorkerMirroredStrategy: %s %d of %d workers", task.task_type, task.index,
             task.n_workers)  # fmt: skip
    return tf.distribute.MultiWorkerMirroredStrategy()


def worker_out_dir(out_dir: str | Path) -> Path:
    """``out_dir`` for the chief and outside a cluster; ``<out_dir>.worker-<i>`` for another
    worker, which keeps its own dataset, backup and model there (so that it resumes with the
    chief), never writing the chief's files."""
    out_dir, task = Path(out_dir), cluster_task()
    if task is None or task.is_chief:
        return out_dir
    other = out_dir.with_name(f"{out_dir.name}.{task.task_type}-{task.index}")
    log.info("%s %d of the cluster writes to %s (the chief writes %s)", task.task_type,
             task.index, other, out_dir)  # fmt: skip
    return other


def is_multiworker(model: keras.Model) -> bool:
    """Whether ``model`` was built under a multi-worker strategy."""
    return isinstance(model.distribute_strategy, tf.distribute.MultiWorkerMirroredStrategy)


def distribute(strategy: tf.distribute.Strategy, ds: tf.data.Dataset) -> Any:
    """``ds`` (global batches) split between the replicas, element by element of each batch."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return strategy.experimental_distribute_dataset(ds.with_options(options))


#: The binary loss's name (``train.BINARY_LOSS``, defined here because train imports this module).
BINARY_LOSS = "binary_crossentropy"


def metric_objects(loss: str) -> list[keras.metrics.Metric]:
    """The metrics every model is compiled with: AUROC and accuracy for :data:`BINARY_LOSS`,
    accuracy for a softmax (``train._compile`` and the multi-worker step share them)."""
    if loss == BINARY_LOSS:
        return [keras.metrics.AUC(name="auroc"), keras.metrics.BinaryAccuracy("acc")]
    return [keras.metrics.SparseCategoricalAccuracy("acc")]


def _per_example_loss(loss: str, y: tf.Tensor, p: tf.Tensor) -> tf.Tensor:
    """Per-row loss in the output's dtype (float32 for 16-bit outputs)."""
    if p.dtype in (tf.float16, tf.bfloat16):
        p = tf.cast(p, tf.float32)
    if loss == BINARY_LOSS:
        return keras.losses.binary_crossentropy(tf.reshape(tf.cast(y, p.dtype), (-1, 1)), p)
    return keras.losses.sparse_categorical_crossentropy(y, p)


def _regularisation(model: keras.Model, dtype: tf.DType) -> tf.Tensor:
    if not model.losses:
        return tf.zeros((), dtype)
    return tf.add_n([tf.cast(v, dtype) for v in model.losses])


def fit_epoch(model: keras.Model, train_ds: tf.data.Dataset, *, loss: str) -> dict[str, float]:
    """One epoch of ``train_ds`` (global batches) on every replica; Keras' history keys.

    ``model`` must be compiled (its optimizer is used) and built under its strategy. The step
    is traced once per model (its input signature has no fixed batch size, so the last,
    smaller batch needs no second trace; tracing the paper's network with its collectives
    takes tens of seconds on a CPU).
    """
    strategy = model.distribute_strategy
    dist = distribute(strategy, train_ds)
    if model not in _STEPS:
        with strategy.scope():
            metrics = metric_objects(loss)
        _STEPS[model] = (_train_step(model, metrics, loss, dist.element_spec), metrics)
    step, metrics = _STEPS[model]
    for m in metrics:
        m.reset_state()
    total, count = 0.0, 0.0
    for batch in dist:
        loss_sum, n = step(batch)
        total, count = total + float(loss_sum), count + float(n)
    row = {"loss": total / max(count, 1.0)}
    row |= {m.name: float(m.result()) for m in metrics}
    return row


#: Each model's traced train step and its metrics (dropped with the model).
_STEPS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _train_step(model: keras.Model, metrics: list, loss: str, element_spec: Any):
    strategy, optimizer = model.distribute_strategy, model.optimizer

    def replica_step(x, y):
        ctx = tf.distribute.get_replica_context()
        with tf.GradientTape() as tape:
            p = model(x, training=True)
            per_example = _per_example_loss(loss, y, p)
            n_local = tf.cast(tf.shape(x)[0], per_example.dtype)
            n_global = ctx.all_reduce("SUM", n_local)
            reg = _regularisation(model, per_example.dtype)
            step_loss = tf.reduce_sum(per_example) / n_global + reg / ctx.num_replicas_in_sync
            scaled = (
                optimizer.scale_loss(step_loss) if hasattr(optimizer, "scale_loss") else step_loss
            )
        grads = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        target = tf.reshape(y, (-1, 1)) if loss == BINARY_LOSS else y
        for m in metrics:
            m.update_state(target, p)
        # Keras' reported loss: the mean data loss per row plus the regularisation
        return tf.reduce_sum(per_example) + reg * n_local, n_global

    def step(batch):
        loss_sum, n_global = strategy.run(replica_step, args=batch)
        return (strategy.reduce("SUM", loss_sum, axis=None),
                strategy.experimental_local_results(n_global)[0])  # fmt: skip

    return tf.function(step, input_signature=[element_spec], autograph=False)


def evaluate(model: keras.Model, ds: tf.data.Dataset, *, loss: str) -> dict[str, float]:
    """Loss and metrics of ``model`` on ``ds``, computed on this worker alone (no collectives).

    Every worker holds the same weights and reads the same validation rows, so each gets the
    same figures; the keys are ``fit``'s (``loss``, ``auroc``, ``acc``).
    """
    metrics = metric_objects(loss)
    forward = tf.function(lambda x: model(x, training=False))
    total, count = 0.0, 0
    for x, y in ds:
        p = forward(x)
        total += float(tf.reduce_sum(_per_example_loss(loss, y, p)))
        count += int(x.shape[0])
        for m in metrics:
            m.update_state(tf.reshape(y, (-1, 1)) if loss == BINARY_LOSS else y, p)
    row = {"loss": total / max(count, 1) + float(_regularisation(model, tf.float32))}
    return row | {m.name: float(m.result()) for m in metrics}
