"""Fast in-silico mutagenesis: each layer recomputes only the window one mutated base can reach.

A single-base mutation at position ``p`` changes a ``'same'`` convolution of kernel ``k`` only at
outputs ``p - (k - 1 - (k - 1) // 2) … p + (k - 1) // 2``; through the trunk the changed window
grows by ``k - 1`` per convolution (~200 positions at the end of the ChromTransfer trunk, against
600 for the whole sequence). As in fastISM (Nair et al. 2022, *Bioinformatics*), each layer's
reference activations are computed once per sequence; a mutant's window at a layer is its
previous window widened by a halo of reference values (zero-padded beyond the sequence), run
through a ``'valid'`` convolution and zeroed outside ``[0, L)``, which is what ``'same'``
padding sees there. The global average pool gives the mutant's pooled vector as ``(reference
sum + sum(mutant window - reference window)) / L`` (in float64), and the layers after the pool
(the dense head, or the logit of :func:`chromtransfer_lib.interpret.attribution.logit_model`)
run on pooled vectors as usual. BatchNorm is its inference-mode per-channel affine map, with
``tf.nn.batch_normalization``'s arithmetic; Dropout is the identity.

Why hand-written: no maintained package does windowed ISM for Keras 3. The ``fastism`` package
(0.5.1 of February 2022, its last release) requires ``tensorflow < 3`` and walks the graph
through Keras 2 ``tf.keras`` internals (``layer.inbound_nodes``, ``tensorflow.python.util.nest``)
that Keras 3 replaced. This module walks the Keras 3 functional graph through the structures
Keras' own ``Functional`` model runs (``_keras_history``, ``_inbound_nodes``, ``Node.arguments``).

Supported before the pool: ``InputLayer``, ``Conv1D`` (``'same'`` or ``'valid'``, stride 1, any
dilation and activation), ``BatchNormalization``, ``Dropout``, ``Activation``, ``Add``,
``Concatenate`` (of channels); then ``GlobalAveragePooling1D``; after it, any layer.
:func:`.fast_ism_plan.plan_fast_ism` raises :class:`.fast_ism_plan.UnsupportedModelError`
naming the first other layer (then
:func:`~chromtransfer_lib.interpret.attribution.in_silico_mutagenesis` recomputes whole
mutants). Two ``tf.function`` s of fixed shapes do the work (the last chunk of sequences and the
last batch of mutants are padded), so nothing is traced twice.
"""

from __future__ import annotations

import logging
import math
from typing import NamedTuple

import numpy as np

from chromtransfer_lib.genome.sequence import one_hot_tensor
from chromtransfer_lib.interpret.fast_ism_plan import FastIsmPlan, Step, plan_fast_ism
from chromtransfer_lib.progress import progress_bar

logger = logging.getLogger(__name__)

#: Reference activations of one chunk of sequences are kept up to this size (bytes).
CHUNK_BYTES = 256 * 2**20


def _constants(plan: FastIsmPlan) -> dict:
    """Step output id → NumPy constants: a convolution's ``(kernel, bias)``, a BatchNorm's
    per-channel ``(scale, offset)`` (``tf.nn.batch_normalization``'s arithmetic, in float32 at
    least as Keras computes it, so that both agree bit for bit)."""
    import keras
    import tensorflow as tf

    consts = {}
    for step in plan.steps:
        layer = step.node.operation
        if step.kind == "conv":
            bias = layer.bias.numpy() if layer.use_bias else None
            consts[step.output] = (layer.kernel.numpy(), bias)
        elif step.kind == "scale":
            dtype = keras.backend.result_type(layer.compute_dtype, "float32")
            mean, var = (tf.cast(v, dtype) for v in (layer.moving_mean, layer.moving_variance))
            inv = tf.math.rsqrt(var + layer.epsilon)
            if layer.scale:
                inv = inv * tf.cast(layer.gamma, dtype)
            offset = (tf.cast(layer.beta, dtype) if layer.center else 0.0) - mean * inv
            consts[step.output] = (inv.numpy(), offset.numpy())
    return consts


def _apply(step: Step, consts, inputs: list, *, padding: str):
    """A trunk layer in inference mode on whole or windowed tensors (``padding``: the
    convolution's, ``'SAME'`` or ``'VALID'``)."""
    import tensorflow as tf

    layer = step.node.operation
    dtype = layer.compute_dtype
    if step.kind == "conv":
        kernel, bias = consts
        x, w = tf.cast(inputs[0], dtype), tf.constant(kernel, dtype=dtype)
        y = tf.nn.convolution(x, w, padding=padding, dilations=layer.dilation_rate)
        if bias is not None:
            y = y + tf.constant(bias, dtype=dtype)
        return layer.activation(y) if layer.activation is not None else y
    if step.kind == "scale":
        scale, offset = consts
        return tf.cast(tf.cast(inputs[0], scale.dtype) * scale + offset, dtype)
    if step.kind == "activation":
        return layer.activation(tf.cast(inputs[0], dtype))
    if step.kind == "concat":
        return tf.concat([tf.cast(x, dtype) for x in inputs], axis=-1)
    if step.kind == "add":
        y = tf.cast(inputs[0], dtype)
        for x in inputs[1:]:  # in Keras' order
            y = y + tf.cast(x, dtype)
        return y
    return inputs[0]  # identity


def _head(step: Step, values: dict):
    args, kwargs = step.node.arguments.fill_in(values)
    return step.node.operation(*args, **{**kwargs, "training": False})


def _reference_fn(plan: FastIsmPlan, consts: dict, *, output_index: int):
    """tf.function: codes ``(S, L)`` → (zero-padded flattened references ``(S * P, C)``,
    float64 pooled sums ``(S, C)``, output ``(S,)``)."""
    import tensorflow as tf

    @tf.function(autograph=False)
    def reference(block):
        values, sums = {plan.input_id: one_hot_tensor(block)}, []
        for step in plan.steps[1:]:
            if step.kind == "pool":
                x = values[step.inputs[0]]
                sums.append(tf.reduce_sum(tf.cast(x, tf.float64), axis=1))
                mean = sums[-1] / x.shape[1]
                values[step.output] = tf.cast(mean, step.node.operation.compute_dtype)
            elif step.kind == "head":
                values[step.output] = _head(step, values)
            else:
                padding = step.node.operation.padding.upper() if step.kind == "conv" else ""
                inputs = [values[t] for t in step.inputs]
                values[step.output] = _apply(step, consts.get(step.output), inputs, padding=padding)
        stored = []
        for tid in plan.stored:
            x = values[tid]
            right = plan.padded_length - plan.margin - x.shape[1]
            x = tf.pad(x, [[0, 0], [plan.margin, right], [0, 0]])
            stored.append(tf.reshape(x, [-1, x.shape[-1]]))
        output = tf.cast(values[plan.output_id][:, output_index], tf.float32)
        return tuple(stored), tuple(sums), output

    return reference


def _mutant_fn(plan: FastIsmPlan, consts: dict, *, output_index: int):
    """tf.function: (chunk codes, references, pooled sums, flat mutant indices ``(B,)``) →
    outputs ``(B,)``."""
    import tensorflow as tf

    slot = {tid: i for i, tid in enumerate(plan.stored)}
    length = plan.seq_len

    def offsets(lo: int, hi: int):
        return tf.constant(np.arange(lo, hi + 1, dtype=np.int64)[None, :])

    @tf.function(autograph=False)
    def mutants(block, stored, sums, flat):
        # flat mutant index within the chunk = (sequence * L + position) * 3 + (shift - 1)
        seq, pos = flat // (3 * length), flat // 3 % length
        ref = tf.cast(tf.gather_nd(block, tf.stack([seq, pos], axis=1)), tf.int64)
        alt = (ref % 4 + flat % 3 + 1) % 4
        start = (seq * plan.padded_length + pos + plan.margin)[:, None]
        indices, masks = {}, {}

        def gather(tid: int, lo: int, hi: int):
            """Reference of tensor ``tid`` at positions ``p + lo … p + hi`` (0 outside)."""
            if (lo, hi) not in indices:
                indices[lo, hi] = start + offsets(lo, hi)
            return tf.gather(stored[slot[tid]], indices[lo, hi])

        def align(tid: int, x, lo: int, hi: int):
            """Tensor ``tid``'s mutant window ``x`` cut or widened to ``p + lo … p + hi``."""
            win = plan.windows[tid]
            if lo > win.lo or hi < win.hi:
                x = x[:, max(0, lo - win.lo) : x.shape[1] - max(0, win.hi - hi)]
            parts = [gather(tid, lo, win.lo - 1)] if lo < win.lo else []
            parts.append(x)
            if hi > win.hi:
                parts.append(gather(tid, win.hi + 1, hi))
            return parts[0] if len(parts) == 1 else tf.concat(parts, axis=1)

        def inside(x, lo: int, hi: int, size: int):
            """``x`` zeroed at positions outside ``[0, size)`` (what zero padding sees)."""
            key = (lo, hi, size, x.dtype)
            if key not in masks:
                at = pos[:, None] + offsets(lo, hi)
                masks[key] = tf.cast((at >= 0) & (at < size), x.dtype)[:, :, None]
            return x * masks[key]

        values = {plan.input_id: tf.one_hot(alt, 4, dtype=tf.float32)[:, None, :]}
        n_pool = 0
        for step in plan.steps[1:]:
            win = plan.windows.get(step.output)
            if step.kind == "head":
                values[step.output] = _head(step, values)
            elif step.kind == "pool":
                src = plan.windows[step.inputs[0]]
                x = values[step.inputs[0]]
                diff = tf.cast(x, tf.float64) - tf.cast(
                    gather(step.inputs[0], src.lo, src.hi), tf.float64
                )
                total = tf.reduce_sum(inside(diff, src.lo, src.hi, src.length), axis=1)
                mean = (tf.gather(sums[n_pool], seq) + total) / src.length
                values[step.output] = tf.cast(mean, step.node.operation.compute_dtype)
                n_pool += 1
            elif step.kind == "conv":
                t = step.inputs[0]
                lo, hi = win.lo - step.pads[0], win.hi + step.pads[1]
                x = inside(align(t, values[t], lo, hi), lo, hi, plan.windows[t].length)
                values[step.output] = _apply(step, consts[step.output], [x], padding="VALID")
            else:
                merge = step.kind in ("add", "concat")
                inputs = [
                    align(t, values[t], win.lo, win.hi) if merge else values[t] for t in step.inputs
                ]
                values[step.output] = _apply(step, consts.get(step.output), inputs, padding="")
        return tf.cast(values[plan.output_id][:, output_index], tf.float32)

    return mutants


class FastIsmOutputs(NamedTuple):
    """The model's outputs for ``n`` reference sequences of length ``L`` and their mutants.

    Attributes
    ----------
    reference
        float32 ``(n,)``: output column for each reference sequence (from the same computation
        as the mutants': the head on the references' pooled vectors).
    mutants
        float32 ``(n, L, 3)``: output for the alternative ``(code % 4 + shift) % 4`` at
        ``[..., shift - 1]`` (``N``, code 4, is mutated like ``A``; callers mask it).
    """

    reference: np.ndarray
    mutants: np.ndarray


def fast_ism_outputs(
    model,
    codes: np.ndarray,
    *,
    plan: FastIsmPlan | None = None,
    batch_size: int = 256,
    output_index: int = 0,
    verbose: bool = False,
) -> FastIsmOutputs:
    """The model's output for every single-base mutant, by windowed recomputation.

    Parameters
    ----------
    model
        Keras functional model, one-hot ``(n, L, 4)`` → ``(n, k)``, supported by
        :func:`plan_fast_ism`.
    codes
        uint8 codes ``(n, L)`` (checked by the caller).
    plan
        :func:`plan_fast_ism` of ``model``, if already made.
    batch_size
        Mutants per compiled call; mutants of several sequences share a batch.
    output_index
        Output column.
    verbose
        Show a progress bar.

    Returns
    -------
    FastIsmOutputs
        References' and mutants' outputs.
    """
    import tensorflow as tf

    plan = plan_fast_ism(model) if plan is None else plan
    n, length = codes.shape
    if length != plan.seq_len:
        raise ValueError(f"codes have length {length} but the model takes {plan.seq_len} bp")
    channels = {id(t): int(t.shape[-1]) for s in plan.steps for t in s.node.outputs}
    per_seq = plan.padded_length * 8 * sum(channels[t] for t in plan.stored)
    # sequences whose references are kept at once: ~16 batches of mutants, in CHUNK_BYTES
    chunk = max(1, min(n, math.ceil(16 * batch_size / (3 * length)), CHUNK_BYTES // per_seq))
    logger.debug("fast ISM: %d sequence(s) per chunk, %.1f%% of the full multiply-adds", chunk,
                 100 * plan.cost_ratio)  # fmt: skip
    consts = _constants(plan)
    reference = _reference_fn(plan, consts, output_index=output_index)
    mutants = _mutant_fn(plan, consts, output_index=output_index)
    out = np.empty(n * 3 * length, dtype=np.float32)
    ref_out = np.empty(n, dtype=np.float32)
    sizes = [min(chunk, n - s) * 3 * length for s in range(0, n, chunk)]
    total = sum(math.ceil(size / batch_size) for size in sizes)
    bar = progress_bar(total=total, enabled=verbose, desc="ISM (fast)", unit="batch")
    for s, todo in zip(range(0, n, chunk), sizes, strict=True):
        block = codes[s : s + chunk]
        if len(block) < chunk:  # the last chunk: padded, cut below
            block = np.concatenate([block, np.repeat(block[:1], chunk - len(block), axis=0)])
        block_t = tf.constant(block)
        stored, sums, got_ref = reference(block_t)
        ref_out[s : s + chunk] = got_ref.numpy()[: min(chunk, n - s)]
        for a in range(0, todo, batch_size):
            flat = np.arange(a, a + batch_size, dtype=np.int64)
            flat[flat >= todo] = 0  # padding of the last batch, cut below
            got = mutants(block_t, stored, sums, tf.constant(flat)).numpy()
            m = min(batch_size, todo - a)
            out[s * 3 * length + a :][:m] = got[:m]
            bar.update()
    bar.close()
    return FastIsmOutputs(reference=ref_out, mutants=out.reshape(n, length, 3))
