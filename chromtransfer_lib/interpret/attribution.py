"""Per-base attribution of a Keras model's prediction: gradient × input and in-silico mutagenesis.

Both take a Keras model whose input is one-hot float32 ``(n, L, 4)`` (A, C, G, T) and whose
output is ``(n, k)`` (``k = 1`` sigmoid, or its logit; ``k = 7`` softmax for the multiclass
baseline), plus uint8 codes ``(n, L)`` (:mod:`chromtransfer_lib.genome.sequence`); ``output_index``
picks the output column. Models are called in inference mode (BatchNorm moving statistics, no
dropout) through a ``tf.function``, not ``model.predict`` (which, like tf.data autotuning,
stalls on small CPUs; ARCHITECTURE.md); one-hot and mutants are built inside the graph from the
codes, and the last batch is padded to the same shape so nothing is traced twice. Plain
predictions come from :func:`chromtransfer_lib.data.pipeline.predict_proba`, the package's one
compiled prediction.

* **Gradient × input** (paper, "Feature importance analysis"): the gradient of the output with
  respect to the one-hot input times the input, summed over the four channels, i.e. the
  gradient at the observed base. Positive = the base supports the prediction. ``N`` gives 0.
* **ISM**: the reference is predicted once per sequence and each of the three alternative bases
  at every position once (``3 L`` predictions, in batches that span sequences). The ISM delta
  of a position is the signed change ``p(mutant) - p(reference)`` of the alternative with the
  largest absolute change; negative = the base supports a positive prediction. At ``N``
  positions the delta is NaN. By default (``method="auto"``) models built from convolutions,
  BatchNorm, additions and concatenations up to a global average pool, as the ChromTransfer
  networks and their logits are, are mutated by :mod:`chromtransfer_lib.interpret.fast_ism`:
  each layer recomputes only the window a mutation reaches (~4x fewer multiply-adds than whole
  mutants at 600 bp; 5-6x faster than a naive ISM on 2 CPU cores), and the reference outputs
  come from the same computation; other models' mutants go through the whole model.
* **Target**: both attribute whatever the model outputs; :func:`target_model` gives the model
  of the output neuron's pre-activation (the logit, the default of the book and the CLI) or
  the probability model itself (:data:`TARGETS`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from chromtransfer_lib.config import ATTRIBUTION_TARGETS
from chromtransfer_lib.errors import InputError
from chromtransfer_lib.genome.sequence import N_CODE, one_hot_tensor
from chromtransfer_lib.progress import progress_bar

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IsmResult:
    """In-silico mutagenesis of ``n`` sequences of length ``L``.

    Attributes
    ----------
    ref_prob
        float32 ``(n,)``: the model output for each reference sequence.
    delta
        float32 ``(n, L)``: signed change of the alternative base with the largest absolute
        change (NaN at ``N``).
    full
        float32 ``(n, L, 4)`` change for every base (0 at the reference base, NaN at ``N``), or
        ``None`` unless requested.
    """

    ref_prob: np.ndarray
    delta: np.ndarray
    full: np.ndarray | None


def _check_codes(codes: np.ndarray) -> np.ndarray:
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    if codes.ndim != 2:
        raise ValueError(f"codes must have shape (n, L), got {codes.shape}")
    if codes.size and codes.max() > N_CODE:
        raise ValueError("codes must be A=0 C=1 G=2 T=3 N=4 (chromtransfer_lib.genome.sequence)")
    return codes


def _batches(n: int, batch_size: int, *, desc: str, verbose: bool):
    return progress_bar(range(0, n, batch_size), enabled=verbose, desc=desc, unit="batch")


def _pad(block: np.ndarray, size: int) -> np.ndarray:
    """Pad the first axis of ``block`` to ``size`` by repeating its first row (cut later)."""
    if block.shape[0] == size:
        return block
    filler = np.repeat(block[:1], size - block.shape[0], axis=0)
    return np.concatenate([block, filler], axis=0)


def _check_output_index(model, output_index: int) -> None:
    if int(model.outputs[0].shape[-1]) == 1 and output_index != 0:
        raise ValueError(f"output_index {output_index} of a model with one output")


def _reference_output(model, codes: np.ndarray, *, batch_size: int, output_index: int):
    """Column ``output_index`` of the model's output on ``codes``, through the one compiled
    predict (:func:`chromtransfer_lib.data.pipeline.predict_proba`).

    The last batch is padded like the mutants' batches, so references and mutants go through
    kernels of one shape (CPU kernels can round a row differently in a batch of another size).
    """
    from chromtransfer_lib.data.pipeline import predict_proba

    _check_output_index(model, output_index)
    n = codes.shape[0]
    last = n - n % batch_size
    padded = np.concatenate([codes[:last], _pad(codes[last:], batch_size)]) if last < n else codes
    out = predict_proba(model, padded, batch_size=batch_size)[:n]
    return np.ascontiguousarray(out if out.ndim == 1 else out[:, output_index], dtype=np.float32)


#: What gradient × input and ISM differentiate: the output neuron's pre-activation, or the
#: probability. The sigmoid saturates, so the probability's gradient in a region predicted at
#: p = 0.999 is ~250× smaller than at p = 0.5 whatever its sequence: pooled over regions, it
#: ranks sites by how uncertain their region is. The book and the CLI attribute the logit.
TARGETS = ATTRIBUTION_TARGETS


class AttributionTargetError(InputError, ValueError):
    """The requested attribution target does not exist for this model."""


def logit_model(model):
    """The model up to the pre-activation of its sigmoid output neuron (the logit).

    A new Keras model sharing every layer of ``model`` but the last, which is replaced by a
    linear copy with the same weights, so ``sigmoid(logit_model(x)) == model(x)``.
    """
    import keras

    out = model.layers[-1]
    if getattr(getattr(out, "activation", None), "__name__", "") != "sigmoid":
        raise AttributionTargetError(
            f"{model.name}: the last layer {out.name!r} is not a sigmoid Dense layer; logits are "
            "defined for the binary models only (use the probability for the multiclass model)"
        )
    linear = keras.layers.Dense(out.units, activation=None, dtype="float32", name="logit")
    logit = linear(out.input)
    linear.set_weights(out.get_weights())
    return keras.Model(model.inputs, logit, name=f"{model.name}_logit")


def target_model(model, *, target: str = "logit"):
    """The model whose output is attributed: :func:`logit_model` or ``model`` itself.

    ``target`` is one of :data:`TARGETS`; pass the result to :func:`grad_x_input` or
    :func:`in_silico_mutagenesis`.
    """
    if target not in TARGETS:
        raise AttributionTargetError(f"target must be one of {TARGETS}, got {target!r}")
    return logit_model(model) if target == "logit" else model


def positive_predictions(probs: np.ndarray, *, threshold: float = 0.5) -> np.ndarray:
    """Indices of sequences predicted positive (``prob >= threshold``), the paper's default set
    for attribution."""
    return np.flatnonzero(np.asarray(probs) >= threshold)


def grad_x_input(
    model,
    codes: np.ndarray,
    *,
    batch_size: int = 256,
    output_index: int = 0,
    verbose: bool = False,
) -> np.ndarray:
    """Gradient × input per base.

    Parameters
    ----------
    model
        Keras model, one-hot ``(n, L, 4)`` → ``(n, k)``.
    codes
        uint8 codes ``(n, L)``.
    batch_size
        Sequences per compiled call.
    output_index
        Output column to attribute (the cell line's class for the multiclass model).
    verbose
        Show a progress bar.

    Returns
    -------
    numpy.ndarray
        float32 ``(n, L)``: d output / d x at the observed base (0 at ``N``).
    """
    import tensorflow as tf

    codes = _check_codes(codes)

    @tf.function(reduce_retracing=True)
    def step(block):
        x = one_hot_tensor(block)
        with tf.GradientTape() as tape:
            tape.watch(x)
            # samples are independent in inference mode, so d(sum)/dx_i = d y_i / d x_i
            y = tf.reduce_sum(model(x, training=False)[:, output_index])
        return tf.reduce_sum(tape.gradient(y, x) * x, axis=-1)

    out = np.empty(codes.shape, dtype=np.float32)
    for a in _batches(codes.shape[0], batch_size, desc="gradient x input", verbose=verbose):
        block = codes[a : a + batch_size]
        out[a : a + len(block)] = step(_pad(block, batch_size)).numpy()[: len(block)]
    return out


#: Default mutants per compiled call of the whole-mutant ISM (the windowed one:
#: :data:`.fast_ism.BATCH_SIZE`).
FULL_ISM_BATCH = 256


def in_silico_mutagenesis(
    model,
    codes: np.ndarray,
    *,
    batch_size: int | None = None,
    output_index: int = 0,
    return_full: bool = False,
    method: str = "auto",
    verbose: bool = False,
) -> IsmResult:
    """Saturation mutagenesis: every position mutated to each of its three alternative bases.

    Parameters
    ----------
    model
        Keras model, one-hot ``(n, L, 4)`` → ``(n, k)``.
    codes
        uint8 codes ``(n, L)``.
    batch_size
        Mutant sequences per compiled call (mutants of several sequences share a batch; the
        result does not depend on it beyond float rounding). By default 256 for whole mutants
        and 512 for the windowed ISM (each fastest on a 2-core CPU, where larger batches fall
        out of cache: 512 windowed mutants were 1.25x faster than 256 at quick widths and as
        fast at the paper's); use thousands on a GPU.
    output_index
        Output column whose probability change is reported.
    return_full
        Also return the ``(n, L, 4)`` change for every base.
    method
        ``"fast"``: each layer recomputes only the window a mutation reaches
        (:mod:`chromtransfer_lib.interpret.fast_ism`; the ChromTransfer networks and their
        :func:`logit_model`); ``"full"``: every mutant through the whole model; ``"auto"``
        (default): fast when :func:`~chromtransfer_lib.interpret.fast_ism_plan.plan_fast_ism`
        supports the model, else full. Both give the same result up to float rounding.
    verbose
        Show a progress bar.

    Returns
    -------
    IsmResult
        Reference probabilities, signed largest-magnitude deltas, optionally all deltas.

    Raises
    ------
    UnsupportedModelError
        With ``method="fast"``, naming the first layer the fast ISM does not implement.
    """
    from chromtransfer_lib.interpret.fast_ism import BATCH_SIZE, fast_ism_outputs

    codes = _check_codes(codes)
    plan = _fast_plan(model, method)
    if batch_size is None:
        batch_size = FULL_ISM_BATCH if plan is None else BATCH_SIZE
    if plan is None:
        ref_prob = _reference_output(model, codes, batch_size=batch_size, output_index=output_index)
        probs = _full_ism_outputs(
            model, codes, batch_size=batch_size, output_index=output_index, verbose=verbose
        )
    else:
        _check_output_index(model, output_index)
        ref_prob, probs = fast_ism_outputs(
            model,
            codes,
            batch_size=batch_size,
            output_index=output_index,
            verbose=verbose,
        )
    return _ism_result(codes, ref_prob, probs, return_full=return_full)


def _fast_plan(model, method: str):
    """The fast-ISM plan of ``model`` for ``method``, or ``None`` for whole-mutant ISM."""
    from chromtransfer_lib.interpret.fast_ism import cached_plan
    from chromtransfer_lib.interpret.fast_ism_plan import UnsupportedModelError

    if method not in ("auto", "fast", "full"):
        raise ValueError(f"method must be 'auto', 'fast' or 'full', got {method!r}")
    if method == "full":
        return None
    try:
        return cached_plan(model)
    except UnsupportedModelError as err:
        if method == "fast":
            raise
        logger.info("ISM recomputes whole mutants: %s", err)
        return None


def ism_method(model, method: str = "auto") -> str:
    """What :func:`in_silico_mutagenesis` runs for ``method`` on ``model``: ``"fast"`` or
    ``"full"`` (``"auto"`` resolved), e.g. for a cache key; the two agree up to float rounding.

    Raises
    ------
    UnsupportedModelError
        With ``method="fast"`` on a model the fast ISM does not implement.
    """
    return "full" if _fast_plan(model, method) is None else "fast"


def _full_ism_outputs(
    model, codes: np.ndarray, *, batch_size: int, output_index: int, verbose: bool
):
    """float32 ``(n, L, 3)``: output of each mutant, each through the whole model."""
    import tensorflow as tf

    n, length = codes.shape
    codes_t = tf.constant(codes)

    @tf.function(reduce_retracing=True)
    def mutants(flat):
        # flat mutant index = (sequence * L + position) * 3 + (shift - 1)
        seq = flat // (3 * length)
        pos = (flat // 3) % length
        ref = tf.gather_nd(codes_t, tf.stack([seq, pos], axis=1))
        alt = (tf.cast(ref, tf.int64) % 4 + flat % 3 + 1) % 4
        x = one_hot_tensor(tf.gather(codes_t, seq))
        at = tf.one_hot(pos, depth=length, dtype=tf.float32)[:, :, None]
        x = x * (1.0 - at) + at * tf.one_hot(alt, depth=4, dtype=tf.float32)[:, None, :]
        return model(x, training=False)[:, output_index]

    total = n * length * 3
    probs = np.empty(total, dtype=np.float32)
    for a in _batches(total, batch_size, desc="ISM", verbose=verbose):
        flat = np.arange(a, a + batch_size, dtype=np.int64)
        flat[flat >= total] = 0  # padding of the last batch, cut below
        got = mutants(tf.constant(flat)).numpy()
        probs[a : min(a + batch_size, total)] = got[: min(batch_size, total - a)]
    return probs.reshape(n, length, 3)


def _ism_result(codes: np.ndarray, ref_prob: np.ndarray, probs: np.ndarray, *, return_full: bool):
    """:class:`IsmResult` from the mutants' outputs ``(n, L, 3)`` (alternative
    ``(code % 4 + shift) % 4`` at ``[..., shift - 1]``)."""
    n, length = codes.shape
    change = probs - ref_prob[:, None, None]
    best = np.take_along_axis(change, np.abs(change).argmax(axis=2)[:, :, None], axis=2)[..., 0]
    is_n = codes == N_CODE
    delta = np.where(is_n, np.nan, best).astype(np.float32)
    full = None
    if return_full:
        full = np.zeros((n, length, 4), dtype=np.float32)
        ref = np.where(is_n, 0, codes).astype(np.int64)
        for shift in range(1, 4):
            alt = (ref + shift) % 4
            np.put_along_axis(full, alt[:, :, None], change[:, :, shift - 1, None], axis=2)
        full[is_n] = np.nan
    return IsmResult(ref_prob=ref_prob, delta=delta, full=full)
