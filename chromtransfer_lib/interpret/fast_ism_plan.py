"""The plan of a windowed (fast) ISM: which trunk tensor of a Keras 3 functional model can
change, over which window, when one input base is mutated (:func:`plan_fast_ism`).

The plan walks the graph through the structures Keras' own ``Functional`` model runs
(``_keras_history``, ``_inbound_nodes``, ``Node.arguments``) and refuses, naming the layer
(:class:`UnsupportedModelError`), whatever :mod:`.fast_ism` cannot run windowed. Split from
:mod:`.fast_ism`, which runs a plan: this module holds what is decided once per model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from chromtransfer_lib.errors import InputError

SUPPORTED = (
    "InputLayer, Conv1D (padding 'same' or 'valid', stride 1), BatchNormalization, Dropout, "
    "Activation, Add, Concatenate, then GlobalAveragePooling1D and any layers after it"
)


class UnsupportedModelError(InputError, ValueError):
    """The model has a layer or wiring the windowed (fast) ISM does not implement."""


class Window(NamedTuple):
    """Where a trunk tensor of ``length`` positions can differ from the reference when input
    position ``p`` is mutated: positions ``p + lo … p + hi``."""

    length: int
    lo: int
    hi: int

    @property
    def width(self) -> int:
        return self.hi - self.lo + 1


class Step(NamedTuple):
    """One node of the graph. ``kind``: ``input``, ``conv``, ``scale`` (BatchNormalization),
    ``activation``, ``identity``, ``add``, ``concat``, ``pool`` or ``head``; ``inputs`` and
    ``output`` are tensor ids; ``pads`` is a convolution's (left, right) reach."""

    node: object
    kind: str
    inputs: tuple[int, ...]
    output: int
    pads: tuple[int, int] = (0, 0)


@dataclass(frozen=True)
class FastIsmPlan:
    """A supported model's graph in topological order, with the mutants' windows.

    Attributes
    ----------
    seq_len
        Input length ``L``.
    input_id, output_id
        Ids of the input and output tensors.
    steps
        The nodes from the input to the output.
    windows
        Tensor id → :class:`Window`, for every tensor before the pool.
    stored
        Ids of the tensors whose reference activations are kept (zero-padded to
        ``padded_length`` positions, ``margin`` of them on the left) for mutants' halos.
    interior
        First and last input positions whose mutants' windows all lie inside their tensors
        (nothing there needs zeroing; first > last when no position is interior).
    cost_ratio
        Multiply-adds of one mutant's windowed convolutions over the whole network's.
    """

    seq_len: int
    input_id: int
    output_id: int
    steps: tuple[Step, ...]
    windows: dict
    stored: tuple[int, ...]
    margin: int
    padded_length: int
    interior: tuple[int, int]
    cost_ratio: float


def _unsupported(model, layer, why: str) -> UnsupportedModelError:
    return UnsupportedModelError(
        f"model {model.name!r}: layer {layer.name!r} ({type(layer).__name__}) {why}; the fast ISM "
        f"supports {SUPPORTED}. Use method='full' (or 'auto', which falls back to it)."
    )


def _topological_nodes(output) -> list:
    """The Keras nodes that ``output`` depends on, each after its inputs."""
    order, seen = [], set()

    def visit(tensor) -> None:
        history = getattr(tensor, "_keras_history", None)
        if history is None or history.operation is None:
            raise UnsupportedModelError(f"{tensor!r} has no Keras history: not a functional model")
        node = history.operation._inbound_nodes[history.node_index]
        if id(node) not in seen:
            seen.add(id(node))
            for parent in node.arguments.keras_tensors:
                visit(parent)
            order.append(node)

    visit(output)
    return order


def _conv_pads(layer, model) -> tuple[int, int]:
    """(left, right) reach of a Conv1D: output ``j`` reads inputs ``j - left … j + right``."""
    if tuple(layer.strides) != (1,) or layer.groups != 1 or layer.data_format != "channels_last":
        raise _unsupported(model, layer, "has strides, groups or channels first")
    span = (layer.kernel_size[0] - 1) * layer.dilation_rate[0]
    if layer.padding == "same":
        return span // 2, span - span // 2  # as tf.nn.convolution pads 'SAME'
    if layer.padding == "valid":
        return 0, span
    raise _unsupported(model, layer, f"has padding {layer.padding!r}")


def plan_fast_ism(model) -> FastIsmPlan:
    """Check that ``model`` is supported and plan the windows of its mutants.

    Parameters
    ----------
    model
        Keras functional model, one-hot ``(n, L, 4)`` → ``(n, k)``.

    Raises
    ------
    UnsupportedModelError
        Naming the first layer (in graph order) that the fast ISM does not implement.
    """
    import keras

    layers = keras.layers
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise UnsupportedModelError(f"model {model.name!r}: the fast ISM needs 1 input, 1 output")
    if model.inputs[0].shape[1] is None:
        raise UnsupportedModelError(f"model {model.name!r}: the fast ISM needs a fixed length")
    seq_len = int(model.inputs[0].shape[1])
    windows, pooled, steps, needs = {}, set(), [], {}
    full_cost = window_cost = 0

    def need(tid: int, lo: int, hi: int) -> None:
        old = needs.get(tid, (lo, hi))
        needs[tid] = (min(old[0], lo), max(old[1], hi))

    for node in _topological_nodes(model.outputs[0]):
        layer, out = node.operation, id(node.outputs[0])
        ins = tuple(id(t) for t in node.arguments.keras_tensors)
        if len(node.outputs) != 1:
            raise _unsupported(model, layer, "has several outputs")
        if isinstance(layer, layers.InputLayer):
            windows[out] = Window(seq_len, 0, 0)
            steps.append(Step(node, "input", ins, out))
            continue
        if ins and all(t in pooled for t in ins):
            pooled.add(out)
            steps.append(Step(node, "head", ins, out))
            continue
        if not ins or any(t in pooled for t in ins):
            raise _unsupported(model, layer, "mixes pooled vectors and sequence tensors")
        first, shape = windows[ins[0]], node.outputs[0].shape
        length = int(shape[1]) if len(shape) == 3 else first.length
        pads = (0, 0)
        if isinstance(layer, layers.Conv1D):
            pads = _conv_pads(layer, model)
            lo, hi, kind = first.lo - pads[1], first.hi + pads[0], "conv"
        elif isinstance(layer, layers.BatchNormalization | layers.Activation):
            if isinstance(layer, layers.BatchNormalization) and layer.axis not in (-1, 2):
                raise _unsupported(model, layer, f"normalises axis {layer.axis}, not channels")
            lo, hi = first.lo, first.hi
            kind = "scale" if isinstance(layer, layers.BatchNormalization) else "activation"
        elif isinstance(layer, layers.Dropout):
            lo, hi, kind = first.lo, first.hi, "identity"
        elif isinstance(layer, layers.Add | layers.Concatenate):
            if isinstance(layer, layers.Concatenate) and layer.axis not in (-1, 2):
                raise _unsupported(model, layer, f"concatenates along axis {layer.axis}")
            lo, hi = min(windows[t].lo for t in ins), max(windows[t].hi for t in ins)
            kind = "add" if isinstance(layer, layers.Add) else "concat"
        elif isinstance(layer, layers.GlobalAveragePooling1D):
            if layer.keepdims or layer.data_format != "channels_last":
                raise _unsupported(model, layer, "keeps dimensions or is channels first")
            need(ins[0], first.lo, first.hi)
            pooled.add(out)
            steps.append(Step(node, "pool", ins, out))
            continue
        else:
            raise _unsupported(model, layer, "is not supported before the pooling")
        # positions p + lo with p in [0, L) outside [0, length) never matter: clamp
        win = Window(length, max(lo, -(seq_len - 1)), min(hi, length - 1))
        if kind == "conv":
            need(ins[0], win.lo - pads[0], win.hi + pads[1])
            macs = layer.kernel_size[0] * int(layer.kernel.shape[1]) * layer.filters
            full_cost, window_cost = full_cost + macs * length, window_cost + macs * win.width
        elif kind in ("add", "concat"):
            for t in ins:
                need(t, win.lo, win.hi)
        windows[out] = win
        steps.append(Step(node, kind, ins, out, pads))
    if id(model.outputs[0]) not in pooled:
        raise UnsupportedModelError(
            f"model {model.name!r}: no GlobalAveragePooling1D before the output; the fast ISM "
            f"supports {SUPPORTED}. Use method='full'."
        )
    # one margin and padded length for all: one gather index per mutant and offset range
    margin = max(0, *(-lo for lo, _ in needs.values()))
    padded = margin + max(seq_len + hi for _, hi in needs.values())
    return FastIsmPlan(
        seq_len=seq_len,
        input_id=id(model.inputs[0]),
        output_id=id(model.outputs[0]),
        steps=tuple(steps),
        windows=windows,
        stored=tuple(needs),
        margin=margin,
        padded_length=max(padded, margin + max(windows[t].length for t in needs)),
        interior=(
            max(-w.lo for w in windows.values()),
            min(w.length - 1 - w.hi for w in windows.values()),
        ),
        cost_ratio=window_cost / max(full_cost, 1),
    )
