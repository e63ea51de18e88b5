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
mutants).

Three ``tf.function`` s of fixed shapes do the work (the last chunk of sequences and the last
batch of mutants are padded): the references, the mutants at *interior* positions (every window
inside the sequence: nothing to zero) and those near the ends (windows zeroed outside). They are
traced once per model, output column and batch size and kept with the model's plan
(:func:`cached_plan`); they read the weights from the layers' variables when they run, so a
model trained further after an ISM is seen as it is. Convolutions run as height-1 2-D
convolutions with ``bias_add`` and ReLU, which TensorFlow fuses into one kernel on CPU.

Why not faster: a mutant's windows sum to 22 % of the network's multiply-adds at 600 bp (67 %
at 200 bp, where the ~200 bp receptive field spans the input), and a naive ISM runs 4 bases
where this runs 3, so ~5.8x fewer multiply-adds than a naive ISM at 600 bp is the ceiling
before the halos, BatchNorm and zeroing are paid on windows of ~100 positions.
"""

from __future__ import annotations

import logging
import math
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np

from chromtransfer_lib.genome.sequence import one_hot_tensor
from chromtransfer_lib.interpret.fast_ism_plan import FastIsmPlan, Step, plan_fast_ism
from chromtransfer_lib.progress import progress_bar

logger = logging.getLogger(__name__)

#: Reference activations of one chunk of sequences are kept up to this size (bytes).
CHUNK_BYTES = 256 * 2**20
#: Mutant batches run at once (from threads: TensorFlow releases the GIL). One batch's small
#: operations kept ~1.4 of 2 CPU cores busy, two at once ~1.85 (1.1-1.2x faster at both widths;
#: three or four at once were no faster).
CONCURRENT_BATCHES = 2
#: Default mutants per compiled call: 1.25x faster than 256 at quick widths, as fast at the
#: paper's (2-core CPU).
BATCH_SIZE = 512


def _weights(step: Step):
    """A step's parameters as tensors read from the layer's variables when the compiled
    function runs (so a cached function sees later changes of the weights): a convolution's
    ``(kernel, bias)``, a BatchNorm's per-channel ``(scale, offset)``
    (``tf.nn.batch_normalization``'s arithmetic, in float32 at least as Keras computes it, so
    that both agree bit for bit)."""
    import keras
    import tensorflow as tf

    layer = step.node.operation
    if step.kind == "conv":
        dtype = layer.compute_dtype
        bias = tf.cast(layer.bias.value, dtype) if layer.use_bias else None
        return tf.cast(layer.kernel.value, dtype), bias
    if step.kind == "scale":
        dtype = keras.backend.result_type(layer.compute_dtype, "float32")
        mean, var = (tf.cast(v.value, dtype) for v in (layer.moving_mean, layer.moving_variance))
        inv = tf.math.rsqrt(var + layer.epsilon)
        if layer.scale:
            inv = inv * tf.cast(layer.gamma.value, dtype)
        offset = (tf.cast(layer.beta.value, dtype) if layer.center else 0.0) - mean * inv
        return inv, offset
    return None


def _conv(layer, x, kernel, bias, *, padding: str):
    """``layer``'s convolution of ``x`` ``(n, W, C)`` with ``padding`` (``'SAME'``/``'VALID'``),
    as a 2-D convolution of height 1 followed by ``bias_add`` and ReLU, the pattern that
    TensorFlow's graph optimiser fuses into one kernel on CPU (a 1-D convolution, which wraps
    the 2-D one between reshapes, and a separate bias addition are not fused; measured ~1.3x
    on the windowed convolutions at quick widths)."""
    import keras
    import tensorflow as tf

    y = tf.nn.conv2d(
        x[:, None], kernel[None], strides=1, padding=padding,
        dilations=[1, 1, layer.dilation_rate[0], 1],
    )  # fmt: skip
    if bias is not None:
        y = tf.nn.bias_add(y, bias)
    if layer.activation is keras.activations.relu:
        y = tf.nn.relu(y)
    elif layer.activation is not None and layer.activation is not keras.activations.linear:
        y = layer.activation(y)
    return y[:, 0]


def _apply(step: Step, weights, inputs: list, *, padding: str):
    """A trunk layer in inference mode on whole or windowed tensors (``padding``: the
    convolution's, ``'SAME'`` or ``'VALID'``)."""
    import tensorflow as tf

    layer = step.node.operation
    dtype = layer.compute_dtype
    if step.kind == "conv":
        return _conv(layer, tf.cast(inputs[0], dtype), *weights, padding=padding)
    if step.kind == "scale":
        scale, offset = weights
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


def _reference_fn(plan: FastIsmPlan, *, output_index: int):
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
                values[step.output] = _apply(step, _weights(step), inputs, padding=padding)
        stored = []
        for tid in plan.stored:
            x = values[tid]
            right = plan.padded_length - plan.margin - x.shape[1]
            x = tf.pad(x, [[0, 0], [plan.margin, right], [0, 0]])
            stored.append(tf.reshape(x, [-1, x.shape[-1]]))
        output = tf.cast(values[plan.output_id][:, output_index], tf.float32)
        return tuple(stored), tuple(sums), output

    return reference


def _mutant_fn(plan: FastIsmPlan, *, output_index: int, masked: bool):
    """tf.function: (chunk codes, references, pooled sums, flat mutant indices ``(B,)``) →
    outputs ``(B,)``. ``masked=False`` is for mutants at positions in ``plan.interior`` only,
    whose windows lie inside the sequence: nothing there is zeroed."""
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
            if not masked:
                return x
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
                values[step.output] = _apply(step, _weights(step), [x], padding="VALID")
            else:
                merge = step.kind in ("add", "concat")
                inputs = [
                    align(t, values[t], win.lo, win.hi) if merge else values[t] for t in step.inputs
                ]
                values[step.output] = _apply(step, _weights(step), inputs, padding="")
        return tf.cast(values[plan.output_id][:, output_index], tf.float32)

    return mutants


class _Compiled(NamedTuple):
    """A model's plan and compiled fast-ISM functions for one output column."""

    reference: object
    interior: object
    edge: object


#: model → (plan, {output index: _Compiled}): planned once per model and traced once per model
#: and shape (the functions read the weights when they run), not in every call.
_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def cached_plan(model) -> FastIsmPlan:
    """:func:`plan_fast_ism` of ``model``, made once per model (a functional model's graph
    cannot change); raises :class:`.fast_ism_plan.UnsupportedModelError` like it."""
    if model not in _COMPILED:
        _COMPILED[model] = (plan_fast_ism(model), {})
    return _COMPILED[model][0]


def _compiled(model, output_index: int) -> _Compiled:
    plan, functions = _COMPILED[model]
    if output_index not in functions:
        functions[output_index] = _Compiled(
            reference=_reference_fn(plan, output_index=output_index),
            interior=_mutant_fn(plan, output_index=output_index, masked=False),
            edge=_mutant_fn(plan, output_index=output_index, masked=True),
        )
    return functions[output_index]


def _batches(groups: list, todo: int, batch_size: int) -> list:
    """``(function, flat indices, count)`` per batch of a chunk's first ``todo`` mutants, each
    group's last batch padded with its first mutant (``count`` of them are real)."""
    batches = []
    for fn, group in groups:
        group = group[group < todo]
        for a in range(0, len(group), batch_size):
            flat = group[a : a + batch_size]
            pad = np.repeat(flat[:1], batch_size - len(flat))
            batches.append((fn, np.concatenate([flat, pad]), len(flat)))
    return batches


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
    batch_size: int = BATCH_SIZE,
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

    plan = cached_plan(model)
    n, length = codes.shape
    if length != plan.seq_len:
        raise ValueError(f"codes have length {length} but the model takes {plan.seq_len} bp")
    channels = {id(t): int(t.shape[-1]) for s in plan.steps for t in s.node.outputs}
    per_seq = plan.padded_length * 8 * sum(channels[t] for t in plan.stored)
    # sequences whose references are kept at once: ~16 batches of mutants, in CHUNK_BYTES; not
    # fitted to n, so that every call with this batch size runs the same compiled shapes
    chunk = max(1, min(math.ceil(16 * batch_size / (3 * length)), CHUNK_BYTES // per_seq))
    logger.debug("fast ISM: %d sequence(s) per chunk, %.1f%% of the full multiply-adds", chunk,
                 100 * plan.cost_ratio)  # fmt: skip
    fns = _compiled(model, output_index)
    out = np.empty(n * 3 * length, dtype=np.float32)
    ref_out = np.empty(n, dtype=np.float32)
    # mutants whose windows lie inside the sequence need no zeroing: they run apart
    position = np.arange(chunk * 3 * length) // 3 % length
    inner = (position >= plan.interior[0]) & (position <= plan.interior[1])
    groups = [(fns.interior, np.flatnonzero(inner)), (fns.edge, np.flatnonzero(~inner))]
    starts = range(0, n, chunk)
    batches = [_batches(groups, min(chunk, n - s) * 3 * length, batch_size) for s in starts]
    bar = progress_bar(total=sum(map(len, batches)), enabled=verbose, desc="ISM (fast)",
                       unit="batch")  # fmt: skip
    with ThreadPoolExecutor(CONCURRENT_BATCHES) as pool:
        for s, todo in zip(starts, batches, strict=True):
            block = codes[s : s + chunk]
            if len(block) < chunk:  # the last chunk: padded, cut below
                block = np.concatenate([block, np.repeat(block[:1], chunk - len(block), axis=0)])
            block_t = tf.constant(block)
            stored, sums, got_ref = fns.reference(block_t)
            ref_out[s : s + chunk] = got_ref.numpy()[: min(chunk, n - s)]

            def run(batch, offset=s * 3 * length, args=(block_t, stored, sums)):
                fn, flat, m = batch
                got = fn(*args, tf.constant(flat, dtype=tf.int64)).numpy()
                out[offset + flat[:m]] = got[:m]  # batches write disjoint entries

            for _ in pool.map(run, todo):
                bar.update()
    bar.close()
    return FastIsmOutputs(reference=ref_out, mutants=out.reshape(n, length, 3))
