"""Where each axon layer's parameters live in a PyTorch state dict, and how they convert.

A *converter* gets one axon layer (op, options and the shapes of its entries) and the
torch module prefix assigned to it, and returns :class:`Rule` s: which torch keys fill
which axon entries, the torch shapes those keys must have (derived from the axon
shapes, so a mismatch is reported in torch's terms), and the conversion. Converters
look at key *names* only, never at values, so a dry run reads no tensor data.

=======================  ==========================================================
axon op                  PyTorch module and conversion
=======================  ==========================================================
dense                    ``nn.Linear``: ``kernel = weight.T``
bilinear                 ``nn.Bilinear``: ``weight`` as is ``(out, in1, in2)``
embedding                ``nn.Embedding``: ``weight`` as is
conv, depthwise_conv     ``nn.Conv{1,2,3}d`` (``groups=in`` for depthwise): ``weight``
                         ``(out, in, *k)`` as is (``channels="first"``) or moved to
                         ``(*k, in, out)`` (``channels="last"``)
conv_transpose           ``nn.ConvTranspose{1,2,3}d``: ``weight (in, out, *k)`` swapped
                         to ``(out, in, *k)`` and spatially flipped, then as conv
batch_norm,              ``nn.BatchNorm*d``/``nn.InstanceNorm*d``: ``weight, bias,
instance_norm            running_mean, running_var`` -> ``gamma, beta`` and the state
                         ``mean, var``; ``num_batches_tracked`` is read and dropped
layer_norm, group_norm,  ``nn.LayerNorm``/``nn.GroupNorm``/``nn.RMSNorm``: ``weight``
rms_norm                 (or ``gamma``) -> ``gamma``, ``bias`` (or ``beta``) -> ``beta``
lstm, gru                one layer and direction of ``nn.LSTM``/``nn.GRU`` (prefix
                         ``lstm.l0``, ``lstm.l0_reverse``, ...; a plain ``lstm`` means
                         ``lstm.l0``) or an ``nn.LSTMCell``/``nn.GRUCell``: gate rows
                         ``i, f, g, o`` / ``r, z, n`` split into axon's per-gate
                         kernels (transposed); LSTM biases ``b_ih + b_hh``; GRU
                         ``br, bz`` summed, ``bin = b_in``, ``bhn = b_hn`` (axon's GRU
                         has PyTorch's reset gate inside ``r * (h @ whn + bhn)``)
attention                ``nn.MultiheadAttention`` (``in_proj_weight`` split in q, k, v,
                         or ``q/k/v_proj_weight``; ``out_proj``), or four linears:
                         ``q_proj, k_proj, v_proj, out_proj|o_proj`` (BART, CLIP,
                         Llama), ``self.query, self.key, self.value, output.dense``
                         (BERT), ``attention.query, ..., output.dense`` (ViT), or a
                         ``{"query", "key", "value", "output"}`` dict of prefixes
parameter_value          (``axon.model.parameter``): the prefix is the full torch key
anything else            each entry ``<name>`` from ``<prefix>.<name>``, as is
=======================  ==========================================================
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from axon.functional.layers import _recurrent as R

Shape = tuple[int, ...]
Prefix = str | Mapping[str, str]
#: The four projections of an attention layer (its ``<which>_kernel``/``<which>_bias``).
PROJECTIONS = ("query", "key", "value", "output")
#: Attention layouts made of four linear modules, by their names under the layer's prefix.
ATTENTION_LAYOUTS = (
    {"query": "q_proj", "key": "k_proj", "value": "v_proj", "output": "out_proj"},
    {"query": "q_proj", "key": "k_proj", "value": "v_proj", "output": "o_proj"},
    {"query": "self.query", "key": "self.key", "value": "self.value", "output": "output.dense"},
    {
        "query": "attention.query", "key": "attention.key", "value": "attention.value",
        "output": "output.dense",
    },
)  # fmt: skip


@dataclass(frozen=True)
class LayerSpec:
    """An axon layer as the converters see it: name, op, options and entry shapes."""

    name: str
    op: str
    options: Mapping[str, Any]
    shapes: Mapping[str, Shape]  # entry name -> shape, params and state alike

    def has(self, *names: str) -> bool:
        return all(name in self.shapes for name in names)


@dataclass(frozen=True)
class Rule:
    """Axon entries ``targets`` come from torch ``keys`` (which must have ``shapes``)."""

    targets: tuple[str, ...]
    keys: tuple[str, ...]
    shapes: tuple[Shape, ...]
    convert: Callable[..., Sequence[np.ndarray]]


Converter = Callable[[LayerSpec, Prefix, Collection[str]], list[Rule]]


def join(prefix: str, name: str) -> str:
    """``prefix.name`` (just ``name`` at the top level)."""
    return f"{prefix}.{name}" if prefix else name


def _as_is(target: str, key: str, shape: Shape) -> Rule:
    return Rule((target,), (key,), (shape,), lambda w: (w,))


def _first(prefix: str, names: Sequence[str], available: Collection[str]) -> str:
    """The first of ``prefix.<name>`` present in the state dict (else the first name)."""
    keys = [join(prefix, name) for name in names]
    return next((key for key in keys if key in available), keys[0])


def _linear(
    layer: LayerSpec, prefix: str, kernel: str = "kernel", bias: str = "bias"
) -> list[Rule]:
    """``nn.Linear`` at ``prefix`` into ``kernel (in, out) = weight.T`` and ``bias``."""
    rules = []
    if layer.has(kernel):
        shape = layer.shapes[kernel]
        rules.append(Rule((kernel,), (join(prefix, "weight"),), (shape[::-1],), lambda w: (w.T,)))
    return rules + _bias(layer, prefix, bias)


def _bias(layer: LayerSpec, prefix: str, target: str = "bias") -> list[Rule]:
    """``<prefix>.bias`` as is, when the layer has a bias."""
    return [_as_is(target, join(prefix, "bias"), layer.shapes[target])] if layer.has(target) else []


def _plain(prefix: Prefix, layer: LayerSpec) -> str:
    if isinstance(prefix, str):
        return prefix
    raise TypeError(
        f"mapping for layer {layer.name!r} ({layer.op}): a dict of torch prefixes is only for "
        f"attention layers ({{'query', 'key', 'value', 'output'}}); give one module prefix."
    )


# -- the converters --------------------------------------------------------------------


def dense(layer: LayerSpec, prefix: Prefix, available: Collection[str]) -> list[Rule]:
    """``nn.Linear``: the kernel is the transposed weight."""
    return _linear(layer, _plain(prefix, layer))


def named_as_is(
    names: Mapping[str, Sequence[str]],
) -> Converter:
    """A converter copying ``{axon entry: torch names (first present wins)}`` unchanged."""

    def convert(layer: LayerSpec, prefix: Prefix, available: Collection[str]) -> list[Rule]:
        prefix = _plain(prefix, layer)
        return [
            _as_is(target, _first(prefix, torch_names, available), layer.shapes[target])
            for target, torch_names in names.items()
            if layer.has(target)
        ]

    return convert


def _first_layout(shape: Shape, channels: str) -> Shape:
    """A kernel shape in the channels-first layout ``(out, in, *k)``."""
    return shape if channels == "first" else (shape[-1], shape[-2], *shape[:-2])


def _to_layout(kernel: np.ndarray, channels: str) -> np.ndarray:
    """A ``(out, in, *k)`` kernel in the layer's layout (``(*k, in, out)`` for channels last)."""
    if channels == "first":
        return kernel
    return np.transpose(kernel, (*range(2, kernel.ndim), 1, 0))


def conv(layer: LayerSpec, prefix: Prefix, available: Collection[str]) -> list[Rule]:
    """``nn.Conv{n}d``: ``(out, in / groups, *k)`` is axon's channels-first layout."""
    prefix, channels = _plain(prefix, layer), layer.options.get("channels", "last")
    shape = _first_layout(layer.shapes["kernel"], channels)
    kernel = Rule(
        ("kernel",), (join(prefix, "weight"),), (shape,), lambda w: (_to_layout(w, channels),)
    )
    return [kernel, *_bias(layer, prefix)]


def conv_transpose(layer: LayerSpec, prefix: Prefix, available: Collection[str]) -> list[Rule]:
    """``nn.ConvTranspose{n}d``: ``(in, out, *k)``, used flipped by axon's (unflipped) op."""
    prefix, channels = _plain(prefix, layer), layer.options.get("channels", "last")
    out, in_, *size = _first_layout(layer.shapes["kernel"], channels)

    def convert(w: np.ndarray) -> tuple[np.ndarray]:
        flipped = np.flip(np.swapaxes(w, 0, 1), axis=tuple(range(2, w.ndim)))
        return (_to_layout(flipped, channels),)

    kernel = Rule(("kernel",), (join(prefix, "weight"),), ((in_, out, *size),), convert)
    return [kernel, *_bias(layer, prefix)]


def running_norm(layer: LayerSpec, prefix: Prefix, available: Collection[str]) -> list[Rule]:
    """``nn.BatchNorm``/``nn.InstanceNorm``: affine parameters and running statistics."""
    rules = _NORM(layer, prefix, available) + _STATISTICS(layer, prefix, available)
    counter = join(_plain(prefix, layer), "num_batches_tracked")
    if counter in available:  # axon's running averages use a momentum, never the count
        rules.append(Rule((), (counter,), ((),), lambda n: ()))
    return rules


def gated_rnn(layer: LayerSpec, prefix: Prefix, available: Collection[str]) -> list[Rule]:
    """One layer and direction of ``nn.LSTM``/``nn.GRU``, split into axon's per-gate entries."""
    prefix = _plain(prefix, layer)
    if join(prefix, "weight_ih") not in available and join(prefix, "l0.weight_ih") in available:
        prefix = join(prefix, "l0")  # a one-layer nn.LSTM named by its module
    input_keys, hidden_keys, bias_keys = R.GATE_KEYS[layer.op]
    rules = [
        _gate_kernels(layer, join(prefix, "weight_ih"), input_keys),
        _gate_kernels(layer, join(prefix, "weight_hh"), hidden_keys),
    ]
    if layer.has(*bias_keys):
        keys = (join(prefix, "bias_ih"), join(prefix, "bias_hh"))
        width = len(input_keys) * layer.shapes[bias_keys[0]][0]
        combine = _lstm_bias if layer.op == "lstm" else _gru_bias
        rules.append(Rule(bias_keys, keys, ((width,), (width,)), combine))
    return rules


def _gate_kernels(layer: LayerSpec, key: str, targets: Sequence[str]) -> Rule:
    """Torch's ``(gates * units, features)`` rows, one block per gate, as ``(features, units)``."""
    features, units = layer.shapes[targets[0]]
    shape = (len(targets) * units, features)
    return Rule(
        tuple(targets), (key,), (shape,), lambda w: [g.T for g in np.split(w, len(targets))]
    )


def _lstm_bias(b_ih: np.ndarray, b_hh: np.ndarray) -> list[np.ndarray]:
    return np.split(b_ih + b_hh, 4)  # i, f, g, o: both biases add inside every gate


def _gru_bias(b_ih: np.ndarray, b_hh: np.ndarray) -> list[np.ndarray]:
    (ir, iz, in_), (hr, hz, hn) = np.split(b_ih, 3), np.split(b_hh, 3)
    return [ir + hr, iz + hz, in_, hn]  # b_hn stays apart: it is inside r * (...)


def attention(layer: LayerSpec, prefix: Prefix, available: Collection[str]) -> list[Rule]:
    """``nn.MultiheadAttention``, or four linear modules (see the module docs)."""
    if isinstance(prefix, Mapping):
        if set(prefix) != set(PROJECTIONS):
            raise ValueError(
                f"mapping for attention layer {layer.name!r}: a dict of torch prefixes needs "
                f"exactly the keys {list(PROJECTIONS)}; got {sorted(prefix)}."
            )
        return _projections(layer, prefix)
    for layout in ATTENTION_LAYOUTS:
        if join(prefix, f"{layout['query']}.weight") in available:
            return _projections(layer, {k: join(prefix, v) for k, v in layout.items()})
    return _multihead_attention(layer, prefix, available)


def _projections(layer: LayerSpec, prefixes: Mapping[str, str]) -> list[Rule]:
    rules = []
    for which in PROJECTIONS:
        rules += _linear(layer, prefixes[which], f"{which}_kernel", f"{which}_bias")
    return rules


def _multihead_attention(layer: LayerSpec, prefix: str, available: Collection[str]) -> list[Rule]:
    """``in_proj_weight`` (q, k, v rows; when all three read the same features) or
    ``q/k/v_proj_weight``, one ``in_proj_bias``, and ``out_proj``."""
    projections = PROJECTIONS[:3]
    kernels = [f"{which}_kernel" for which in projections]
    shapes = [layer.shapes[k] for k in kernels]
    widths = [shape[1] for shape in shapes]
    if join(prefix, "q_proj_weight") in available or len({s[0] for s in shapes}) > 1:
        rules = [
            Rule((k,), (join(prefix, f"{which[0]}_proj_weight"),), (s[::-1],), lambda w: (w.T,))
            for k, which, s in zip(kernels, projections, shapes, strict=True)
        ]
    else:
        rows = (sum(widths), shapes[0][0])
        rules = [
            Rule(tuple(kernels), (join(prefix, "in_proj_weight"),), (rows,), _split_rows(widths))
        ]
    biases = [f"{which}_bias" for which in projections]
    if layer.has(*biases):
        split = _split_rows(widths, transpose=False)
        rules.append(Rule(tuple(biases), (join(prefix, "in_proj_bias"),), ((sum(widths),),), split))
    return rules + _linear(layer, join(prefix, "out_proj"), "output_kernel", "output_bias")


def _split_rows(widths: Sequence[int], transpose: bool = True) -> Callable[..., list[np.ndarray]]:
    cuts = np.cumsum(widths)[:-1]

    def split(w: np.ndarray) -> list[np.ndarray]:
        return [part.T if transpose else part for part in np.split(w, cuts)]

    return split


def parameter(layer: LayerSpec, prefix: Prefix, available: Collection[str]) -> list[Rule]:
    """``axon.model.parameter``: its prefix is the whole torch key (an ``nn.Parameter``)."""
    return [_as_is("value", _plain(prefix, layer), layer.shapes["value"])]


def generic(layer: LayerSpec, prefix: Prefix, available: Collection[str]) -> list[Rule]:
    """Any other layer: each entry ``<name>`` from ``<prefix>.<name>``, unchanged."""
    prefix = _plain(prefix, layer)
    return [_as_is(name, join(prefix, name), shape) for name, shape in layer.shapes.items()]


_NORM = named_as_is({"gamma": ("weight", "gamma"), "beta": ("bias", "beta")})
_STATISTICS = named_as_is({"mean": ("running_mean",), "var": ("running_var",)})

CONVERTERS: dict[str, Converter] = {
    "dense": dense,
    "bilinear": named_as_is({"kernel": ("weight",), "bias": ("bias",)}),
    "embedding": named_as_is({"kernel": ("weight",)}),
    "conv": conv,
    "depthwise_conv": conv,
    "conv_transpose": conv_transpose,
    "batch_norm": running_norm,
    "instance_norm": running_norm,
    "layer_norm": _NORM,
    "group_norm": _NORM,
    "rms_norm": _NORM,
    "lstm": gated_rnn,
    "gru": gated_rnn,
    "attention": attention,
    "parameter_value": parameter,
}
